"""A libtorrent (rasterbar) peer for interop tests, on 127.0.0.1 only.

usage:
  libtorrent_peer.py download MAGNET SAVE_DIR PEER_HOST:PORT   # exit 0 once complete
  libtorrent_peer.py seed TORRENT_FILE SAVE_DIR                # prints "port N", seeds until stdin closes
"""
import sys
import time

import libtorrent as lt


def session():
    return lt.session({
        "listen_interfaces": "127.0.0.1:0",
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


def seed(torrent_file, save_dir):
    ses = session()
    info = lt.torrent_info(torrent_file)
    handle = ses.add_torrent({"ti": info, "save_path": save_dir})
    deadline = time.time() + 30
    while not handle.status().is_seeding:
        if time.time() > deadline:
            print("not seeding: %s" % handle.status().state, flush=True)
            return 1
        time.sleep(0.1)
    print("port %d" % ses.listen_port(), flush=True)
    sys.stdin.read()  # the test closes stdin (or kills us) when done
    return 0


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "download":
        sys.exit(download(sys.argv[2], sys.argv[3], sys.argv[4]))
    if mode == "seed":
        sys.exit(seed(sys.argv[2], sys.argv[3]))
    sys.exit("unknown mode %s" % mode)
