"""Loopback HTTP/1.1 keep-alive server for bench/http: answers every GET with a small JSON body."""
import http.server
import sys

BODY = b'{"id":"resp_bench","object":"response","status":"completed"}\n'


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True

    def do_GET(self):
        # One write for head and body, so no Nagle/delayed-ACK pause between them.
        head = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % len(BODY)).encode()
        self.wfile.write(head + BODY)

    def log_message(self, *args):
        pass


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
