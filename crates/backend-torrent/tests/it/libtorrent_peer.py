"""A libtorrent (rasterbar) peer for interop tests, on 127.0.0.1 only.

usage:
  libtorrent_peer.py download MAGNET SAVE_DIR PEER_HOST:PORT   # exit 0 once complete
  libtorrent_peer.py seed TORRENT_FILE SAVE_DIR [OPTIONS]      # prints "port N", seeds until stdin
                                                               # closes, then prints "uploaded BYTES"
seed options (fault injection):
  --port N            listen on 127.0.0.1:N (to come back on the same port after a kill)
  --upload-limit B    serve at most B bytes per second (so a transfer is still running when killed)
  --unverified        serve the files as they are, hash checks off: a peer that sends corrupt pieces
"""
import argparse
import sys
import time

import libtorrent as lt


def session(port=0, hash_checks=True):
    return lt.session({
        "listen_interfaces": "127.0.0.1:%d" % port,
        # Off only for the corrupt peer: libtorrent then neither checks its
        # files nor verifies a piece before sending it.
        "disable_hash_checks": not hash_checks,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        # librqbit listens on TCP only.
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "alert_mask": lt.alert.category_t.error_notification,
    })


def download(magnet, save_dir, peer):
    ses = session()
    params = lt.parse_magnet_uri(magnet)
    params.save_path = save_dir
    params.trackers = []
    handle = ses.add_torrent(params)
    host, port = peer.rsplit(":", 1)
    deadline = time.time() + 60
    next_dial = 0
    while time.time() < deadline:
        if time.time() >= next_dial and handle.status().num_peers == 0:
            handle.connect_peer((host, int(port)))
            next_dial = time.time() + 3
        status = handle.status()
        if status.has_metadata and status.is_seeding:
            print("done", flush=True)
            return 0
        time.sleep(0.2)
    print("timeout: %s" % handle.status().state, flush=True)
    return 1


def seed(torrent_file, save_dir, port=0, upload_limit=0, unverified=False):
    ses = session(port, hash_checks=not unverified)
    info = lt.torrent_info(torrent_file)
    params = {"ti": info, "save_path": save_dir}
    if unverified:
        # Seed mode: assume the files are complete instead of checking them.
        params["flags"] = lt.torrent_flags.seed_mode
    handle = ses.add_torrent(params)
    if upload_limit:
        # A torrent's limit applies to loopback peers too, unlike the session's.
        handle.set_upload_limit(upload_limit)
    deadline = time.time() + 30
    while not handle.status().is_seeding:
        if time.time() > deadline:
            print("not seeding: %s" % handle.status().state, flush=True)
            return 1
        time.sleep(0.1)
    print("port %d" % ses.listen_port(), flush=True)
    sys.stdin.read()  # the test closes stdin (or kills us) when done
    print("uploaded %d" % handle.status().total_payload_upload, flush=True)
    return 0


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "download":
        sys.exit(download(sys.argv[2], sys.argv[3], sys.argv[4]))
    if mode == "seed":
        parser = argparse.ArgumentParser(prog="libtorrent_peer.py seed")
        parser.add_argument("torrent_file")
        parser.add_argument("save_dir")
        parser.add_argument("--port", type=int, default=0)
        parser.add_argument("--upload-limit", type=int, default=0)
        parser.add_argument("--unverified", action="store_true")
        a = parser.parse_args(sys.argv[2:])
        sys.exit(seed(a.torrent_file, a.save_dir, a.port, a.upload_limit, a.unverified))
    sys.exit("unknown mode %s" % mode)
