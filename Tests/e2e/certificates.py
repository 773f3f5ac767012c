"""Test certificate authorities and the server certificates they sign, made with openssl in a test's
directory: for `serve --tls-cert` (test_access.py) and for a PostgreSQL that speaks TLS (test_store_tls.py)."""
import subprocess
from pathlib import Path


def openssl(directory: Path, *args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)


def make_ca(directory: Path, name="ca"):
    """A self-signed CA: NAME.pem and NAME.key in directory; returns (certificate, key)."""
    openssl(directory, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=tailcast test {name}",
            "-keyout", f"{name}.key", "-out", f"{name}.pem")
    return directory / f"{name}.pem", directory / f"{name}.key"


def make_server_certificate(directory: Path, ca, name="server", names="DNS:localhost"):
    """A certificate for `names` (a subjectAltName value) signed by ca, a (certificate, key) pair:
    NAME.pem and NAME.key in directory; returns (certificate, key)."""
    openssl(directory, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", f"{name}.key", "-out", f"{name}.csr")
    (directory / f"{name}.ext").write_text(f"subjectAltName={names}\n")
    openssl(directory, "x509", "-req", "-in", f"{name}.csr", "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
            "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem")
    return directory / f"{name}.pem", directory / f"{name}.key"


def make_certificates(directory: Path):
    """A CA and a server certificate for localhost signed by it: (ca.pem, server.pem, server.key)."""
    ca = make_ca(directory)
    return (ca[0], *make_server_certificate(directory, ca))
