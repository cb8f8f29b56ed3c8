//! TCP for the relay whose listening sockets are exclusively ours.
//!
//! libp2p-tcp sets `SO_REUSEPORT` on every listening socket (it wants to dial
//! from the listening port), so a second node on a taken port binds without
//! error and the kernel splits incoming connections between the two. Here
//! listeners are plain sockets, so a taken port fails `listen_on` with
//! `EADDRINUSE`; dialling is still libp2p-tcp's, always from a fresh port.
//! A wildcard listener reports each interface address as it comes and goes,
//! as libp2p-tcp does.

use std::{
    collections::VecDeque,
    io,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    task::{Context, Poll, Waker},
};

use futures::future::{Ready, ready};
use if_watch::{IfEvent, tokio::IfWatcher};
use libp2p::{
    Multiaddr,
    core::transport::{DialOpts, ListenerId, PortUse, Transport, TransportError, TransportEvent},
    multiaddr::Protocol,
    tcp::{self, tokio::TcpStream},
};

/// Listens with plain sockets, dials through libp2p-tcp.
pub(crate) struct ExclusiveTcp {
    dialer: tcp::tokio::Transport,
    listeners: Vec<Listener>,
    /// Index of the listener polled first next time, so one busy listener
    /// cannot starve the others.
    next: usize,
    pending: VecDeque<TransportEvent<Ready<io::Result<TcpStream>>, io::Error>>,
    waker: Option<Waker>,
}

struct Listener {
    id: ListenerId,
    socket: tokio::net::TcpListener,
    bound: SocketAddr,
    /// The interfaces' addresses, for a listener on `0.0.0.0` or `::`.
    interfaces: Option<IfWatcher>,
}

impl ExclusiveTcp {
    pub(crate) fn new() -> ExclusiveTcp {
        ExclusiveTcp {
            dialer: tcp::tokio::Transport::new(tcp::Config::default()),
            listeners: Vec::new(),
            next: 0,
            pending: VecDeque::new(),
            waker: None,
        }
    }

    fn push(&mut self, event: TransportEvent<Ready<io::Result<TcpStream>>, io::Error>) {
        self.pending.push_back(event);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

impl Listener {
    /// An interface address of a wildcard listener that came or went.
    fn poll_interfaces(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Option<TransportEvent<Ready<io::Result<TcpStream>>, io::Error>> {
        let interfaces = self.interfaces.as_mut()?;
        loop {
            let (up, ip) = match interfaces.poll_if_event(cx) {
                Poll::Pending => return None,
                Poll::Ready(Err(error)) => {
                    return Some(TransportEvent::ListenerError {
                        listener_id: self.id,
                        error,
                    });
                }
                Poll::Ready(Ok(IfEvent::Up(net))) => (true, net.addr()),
                Poll::Ready(Ok(IfEvent::Down(net))) => (false, net.addr()),
            };
            // A socket on 0.0.0.0 answers on IPv4 addresses only.
            if ip.is_ipv4() != self.bound.is_ipv4() {
                continue;
            }
            let addr = multiaddr(SocketAddr::new(ip, self.bound.port()));
            return Some(if up {
                TransportEvent::NewAddress {
                    listener_id: self.id,
                    listen_addr: addr,
                }
            } else {
                TransportEvent::AddressExpired {
                    listener_id: self.id,
                    listen_addr: addr,
                }
            });
        }
    }
}

/// `/ip4|ip6/<ip>/tcp/<port>`, optionally ending in `/p2p/<id>`.
fn socket_addr(addr: &Multiaddr) -> Option<SocketAddr> {
    let mut protocols = addr.iter();
    let ip: IpAddr = match protocols.next()? {
        Protocol::Ip4(ip) => ip.into(),
        Protocol::Ip6(ip) => ip.into(),
        _ => return None,
    };
    let Protocol::Tcp(port) = protocols.next()? else {
        return None;
    };
    match protocols.next() {
        None | Some(Protocol::P2p(_)) if protocols.next().is_none() => {
            Some(SocketAddr::new(ip, port))
        }
        _ => None,
    }
}

fn multiaddr(addr: SocketAddr) -> Multiaddr {
    Multiaddr::empty()
        .with(addr.ip().into())
        .with(Protocol::Tcp(addr.port()))
}

impl Transport for ExclusiveTcp {
    type Output = TcpStream;
    type Error = io::Error;
    type ListenerUpgrade = Ready<io::Result<TcpStream>>;
    type Dial = <tcp::tokio::Transport as Transport>::Dial;

    fn listen_on(
        &mut self,
        id: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<io::Error>> {
        let Some(socket_addr) = socket_addr(&addr) else {
            return Err(TransportError::MultiaddrNotSupported(addr));
        };
        // std sets SO_REUSEADDR (a port in TIME_WAIT is free) but never
        // SO_REUSEPORT (a port someone listens on is not).
        let socket = std::net::TcpListener::bind(socket_addr).map_err(TransportError::Other)?;
        socket
            .set_nonblocking(true)
            .map_err(TransportError::Other)?;
        let socket = tokio::net::TcpListener::from_std(socket).map_err(TransportError::Other)?;
        let bound = socket.local_addr().map_err(TransportError::Other)?;
        let interfaces = if bound.ip().is_unspecified() {
            // Reports every current address first, then changes.
            Some(IfWatcher::new().map_err(TransportError::Other)?)
        } else {
            self.push(TransportEvent::NewAddress {
                listener_id: id,
                listen_addr: multiaddr(bound),
            });
            None
        };
        self.listeners.push(Listener {
            id,
            socket,
            bound,
            interfaces,
        });
        Ok(())
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        let Some(index) = self.listeners.iter().position(|l| l.id == id) else {
            return false;
        };
        self.listeners.remove(index);
        self.push(TransportEvent::ListenerClosed {
            listener_id: id,
            reason: Ok(()),
        });
        true
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        opts: DialOpts,
    ) -> Result<Self::Dial, TransportError<io::Error>> {
        // Reusing the listening port would need SO_REUSEPORT on it.
        self.dialer.dial(
            addr,
            DialOpts {
                port_use: PortUse::New,
                ..opts
            },
        )
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, Self::Error>> {
        if let Some(event) = self.pending.pop_front() {
            return Poll::Ready(event);
        }
        let count = self.listeners.len();
        for offset in 0..count {
            let index = (self.next + offset) % count;
            let listener = &mut self.listeners[index];
            let event = match listener.poll_interfaces(cx) {
                Some(event) => event,
                None => match listener.socket.poll_accept(cx) {
                    Poll::Pending => continue,
                    Poll::Ready(Ok((stream, remote))) => {
                        // As libp2p-tcp does: small gossip frames go out at once.
                        let _ = stream.set_nodelay(true);
                        let local = stream.local_addr().unwrap_or(listener.bound);
                        TransportEvent::Incoming {
                            listener_id: listener.id,
                            upgrade: ready(Ok(TcpStream(stream))),
                            local_addr: multiaddr(local),
                            send_back_addr: multiaddr(remote),
                        }
                    }
                    Poll::Ready(Err(error)) => TransportEvent::ListenerError {
                        listener_id: listener.id,
                        error,
                    },
                },
            };
            self.next = (index + 1) % count;
            return Poll::Ready(event);
        }
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_tcp_addresses_are_ours() {
        let parse = |s: &str| socket_addr(&s.parse().unwrap());
        assert_eq!(
            parse("/ip4/127.0.0.1/tcp/9000"),
            Some(([127, 0, 0, 1], 9000).into())
        );
        assert_eq!(
            parse("/ip6/::1/tcp/1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"),
            Some(SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), 1))
        );
        for other in [
            "/ip4/127.0.0.1/tcp/9000/ws",
            "/ip4/127.0.0.1/udp/9000",
            "/dns4/localhost/tcp/9000",
            "/ip4/127.0.0.1",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }
}
