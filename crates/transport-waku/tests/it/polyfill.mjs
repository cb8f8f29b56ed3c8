// Node 20 lacks Promise.withResolvers, which it-queue/mortice (under
// @waku/sdk 0.0.27) call; loaded with `node --import ./polyfill.mjs`.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
