"""The libtorrent (rasterbar) side of `cargo xtask bench`, on 127.0.0.1 only.

usage:
  libtorrent_side.py create ROOT NAME OUT PIECE_LENGTH  # .torrent of ROOT/NAME/{data,index}
  libtorrent_side.py download MAGNET SAVE_DIR HOST:PORT TIMEOUT_SECS  # exit 0 once complete

libtorrent 2.0 refuses piece lengths that are not powers of two, so `create`
cannot use status-go's 102400 and the bench passes 131072; v1_only keeps it
from also computing the SHA-256 merkle trees of a v2 torrent, which ours does
not make either.
"""
import sys
import time

import libtorrent as lt


def create(root, name, out, piece_length):
    files = lt.file_storage()
    lt.add_files(files, root + "/" + name)
    torrent = lt.create_torrent(files, piece_length, flags=lt.create_torrent.v1_only)
    lt.set_piece_hashes(torrent, root)
    with open(out, "wb") as f:
        f.write(lt.bencode(torrent.generate()))
    return 0


def download(magnet, save_dir, peer, timeout):
    session = lt.session({
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
    params = lt.parse_magnet_uri(magnet)
    params.save_path = save_dir
    params.trackers = []
    handle = session.add_torrent(params)
    host, port = peer.rsplit(":", 1)
    deadline = time.time() + timeout
    next_dial = 0
    while time.time() < deadline:
        status = handle.status()
        if time.time() >= next_dial and status.num_peers == 0:
            handle.connect_peer((host, int(port)))
            next_dial = time.time() + 3
        if status.has_metadata and status.is_seeding:
            print('{"total_done": %d}' % status.total_done, flush=True)
            return 0
        time.sleep(0.01)
    print("timeout: %s" % handle.status().state, file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "create":
        sys.exit(create(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
    if mode == "download":
        sys.exit(download(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])))
    sys.exit("unknown mode %s" % mode)
