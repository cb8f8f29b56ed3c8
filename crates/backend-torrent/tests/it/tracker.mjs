// A local HTTP BitTorrent tracker (npm bittorrent-tracker) on 127.0.0.1 for
// interop tests; prints "port N" and runs until stdin closes.
import Server from 'bittorrent-tracker/server'
const server = new Server({ udp: false, http: true, ws: false, stats: false })
server.on('error', e => { console.error(e.message); process.exit(1) })
server.listen(0, '127.0.0.1', () => { console.log('port ' + server.http.address().port) })
process.stdin.on('end', () => process.exit(0)); process.stdin.resume()
