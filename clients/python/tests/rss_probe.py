"""Run as a script: uploads one file with a fresh process's Client and prints how far the
process's resident memory rose above what it was before the upload (MiB), sampled while
the upload runs. Arguments: address, CA file, token, connection, file, remote folder."""

import sys
import threading
import time

from dropbox_connector import Client


def resident_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / (1024 * 1024)


def main() -> None:
    address, ca_file, token, connection, path, folder = sys.argv[1:7]
    peak, done = [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], resident_mib())
            time.sleep(0.005)

    with Client(address, ca_file=ca_file, token=token, timeout=300) as client:
        # Warm up the channel (TLS, HTTP/2, the stubs) so only the upload is measured.
        client.create_folder(connection, folder, exist_ok=True)
        before = resident_mib()
        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            result = client.upload_file(connection, path, folder)
        finally:
            done.set()
            sampler.join()
    print(f"{result.uploaded.size} {peak[0] - before:.1f}")


if __name__ == "__main__":
    main()
