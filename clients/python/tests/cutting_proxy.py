"""A TCP forwarder that breaks every connection once, after a given number of bytes went
from the client to the server: a network failure in the middle of a stream, as a client
meets it (the TLS and HTTP/2 above it simply break)."""

import socket
import threading


class CuttingProxy:
    def __init__(self, target: str, cut_after_bytes: int) -> None:
        host, port = target.rsplit(":", 1)
        self._target = (host, int(port))
        self._cut_after = cut_after_bytes
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.upstream_bytes = 0
        self.cut = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._sockets += [downstream, upstream]
            threading.Thread(target=self._pipe, args=(downstream, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, downstream, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, to_server: bool) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
                if to_server:
                    self._count(len(data))
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _count(self, n: int) -> None:
        with self._lock:
            self.upstream_bytes += n
            if self.cut.is_set() or self.upstream_bytes < self._cut_after:
                return
            self.cut.set()
            victims, self._sockets = self._sockets, []
        for s in victims:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            victims, self._sockets = self._sockets, []
        for s in victims:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
