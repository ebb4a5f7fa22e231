"""Real-client interop: PyPI's smbprotocol against a running `smbdx serve`.

Usage: smbprotocol_suite.py HOST PORT SHARE USER PASSWORD CIPHER SIGNING MODE
  CIPHER  aes-128-gcm | aes-256-gcm | aes-128-ccm | aes-256-ccm
  SIGNING aes-gmac | aes-cmac | hmac-sha256
  MODE    files       write, read back, compare, list, stat, delete (encrypted session)
          signed      the same on an unencrypted, signed session
          badpass     expect STATUS_LOGON_FAILURE
          noencrypt   a client that cannot encrypt (SMB 2.1) on an encrypt-data share: expect STATUS_ACCESS_DENIED
                      on tree connect
          escape      raw `..`, absolute, stream and device names: every open refused
          smb21       dialect 2.1 only: expect the session to be refused
Exits 0 when every check held; prints what failed otherwise.
"""
import hashlib
import os
import sys
import uuid

from smbprotocol.connection import Ciphers, Connection, Dialects, SigningAlgorithms
from smbprotocol.exceptions import AccessDenied, LogonFailure, SMBResponseException
from smbprotocol.file_info import FileInformationClass
from smbprotocol.open import (
    CreateDisposition,
    CreateOptions,
    FilePipePrinterAccessMask,
    ImpersonationLevel,
    Open,
    ShareAccess,
)
from smbprotocol.session import Session
from smbprotocol.tree import TreeConnect

CIPHERS = {
    "aes-128-gcm": Ciphers.AES_128_GCM,
    "aes-256-gcm": Ciphers.AES_256_GCM,
    "aes-128-ccm": Ciphers.AES_128_CCM,
    "aes-256-ccm": Ciphers.AES_256_CCM,
}
SIGNING = {
    "aes-gmac": SigningAlgorithms.AES_GMAC,
    "aes-cmac": SigningAlgorithms.AES_CMAC,
    "hmac-sha256": SigningAlgorithms.HMAC_SHA256,
}


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def connect(host, port, cipher, signing, dialect=None):
    conn = Connection(uuid.uuid4(), host, int(port), require_signing=False)
    conn.connect(dialect=dialect, timeout=20, preferred_encryption_algos=[CIPHERS[cipher]],
                 preferred_signing_algos=[SIGNING[signing]])
    return conn


def files(tree, encrypted):
    name = f"interop-{uuid.uuid4().hex[:8]}.bin"
    data = os.urandom(3 * 1024 * 1024 + 17)
    f = Open(tree, name)
    f.create(ImpersonationLevel.Impersonation,
             FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE,
             0, ShareAccess.FILE_SHARE_READ, CreateDisposition.FILE_OVERWRITE_IF,
             CreateOptions.FILE_NON_DIRECTORY_FILE)
    chunk = tree.session.connection.max_write_size
    for off in range(0, len(data), chunk):
        f.write(data[off:off + chunk], off)
    f.flush()
    got = b""
    rchunk = tree.session.connection.max_read_size
    while len(got) < len(data):
        got += f.read(len(got), min(rchunk, len(data) - len(got)))
    if hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
        fail("read back differs from what was written")
    f.close()

    d = Open(tree, "")
    d.create(ImpersonationLevel.Impersonation, FilePipePrinterAccessMask.GENERIC_READ, 0,
             ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE, CreateDisposition.FILE_OPEN,
             CreateOptions.FILE_DIRECTORY_FILE)
    entries = d.query_directory("*", FileInformationClass.FILE_ID_BOTH_DIRECTORY_INFORMATION)
    names = [e["file_name"].get_value().decode("utf-16-le") for e in entries]
    if name not in names:
        fail(f"{name} missing from listing {names}")
    size = [e for e in entries if e["file_name"].get_value().decode("utf-16-le") == name][0]["end_of_file"].get_value()
    if size != len(data):
        fail(f"listing says {size} bytes, wrote {len(data)}")
    d.close()

    s = Open(tree, name)
    s.create(ImpersonationLevel.Impersonation, FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES, 0,
             ShareAccess.FILE_SHARE_READ, CreateDisposition.FILE_OPEN, CreateOptions.FILE_NON_DIRECTORY_FILE)
    if s.end_of_file != len(data):
        fail(f"stat says {s.end_of_file} bytes")
    s.close()

    r = Open(tree, name)
    r.create(ImpersonationLevel.Impersonation, FilePipePrinterAccessMask.DELETE, 0,
             ShareAccess.FILE_SHARE_DELETE, CreateDisposition.FILE_OPEN,
             CreateOptions.FILE_NON_DIRECTORY_FILE | CreateOptions.FILE_DELETE_ON_CLOSE)
    r.close()
    gone = Open(tree, name)
    try:
        gone.create(ImpersonationLevel.Impersonation, FilePipePrinterAccessMask.GENERIC_READ, 0,
                    ShareAccess.FILE_SHARE_READ, CreateDisposition.FILE_OPEN, CreateOptions.FILE_NON_DIRECTORY_FILE)
        fail("file still exists after delete")
    except SMBResponseException as e:
        if e.status != 0xC0000034:
            fail(f"expected OBJECT_NAME_NOT_FOUND after delete, got {e.status:#x}")


def escape(tree):
    names = [
        "..\\outside\\secret.txt",
        "sub\\..\\..\\outside\\secret.txt",
        "..\\planted.txt",
        "link\\secret.txt",
        "secret-link.txt",
        "C:\\Windows\\win.ini",
        "file.txt:hidden-stream",
        "CON",
        "nul.txt",
    ]
    for name in names:
        for disposition in (CreateDisposition.FILE_OPEN, CreateDisposition.FILE_OPEN_IF):
            f = Open(tree, name)
            try:
                f.create(ImpersonationLevel.Impersonation,
                         FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE, 0,
                         ShareAccess.FILE_SHARE_READ, disposition, 0)
            except SMBResponseException as e:
                continue
            f.close()
            fail(f"opening {name!r} with disposition {disposition} succeeded")


def main():
    host, port, share, user, password, cipher, signing, mode = sys.argv[1:9]
    unc = rf"\\{host}\{share}"
    if mode == "smb21":
        conn = connect(host, port, cipher, signing, dialect=Dialects.SMB_2_1_0)
        try:
            Session(conn, user, password, require_encryption=False).connect()
            fail("an SMB 2.1 session was accepted by a server that requires encryption")
        except (AccessDenied, SMBResponseException) as e:
            print(f"refused as expected: {e}")
        return
    conn = connect(host, port, cipher, signing, dialect=Dialects.SMB_2_1_0 if mode == "noencrypt" else None)
    if mode == "badpass":
        try:
            Session(conn, user, password + "x", require_encryption=False).connect()
            fail("wrong password accepted")
        except LogonFailure:
            print("STATUS_LOGON_FAILURE as expected")
        except SMBResponseException as e:
            if e.status != 0xC000006D:
                fail(f"expected STATUS_LOGON_FAILURE, got {e.status:#x}")
        return
    encrypted = mode == "files"
    session = Session(conn, user, password, require_encryption=encrypted)
    session.connect()
    if mode == "noencrypt":
        try:
            TreeConnect(session, unc).connect()
            fail("unencrypted session was given an encrypt-data share")
        except (AccessDenied, SMBResponseException) as e:
            print(f"refused as expected: {e}")
        return
    if mode == "escape":
        tree = TreeConnect(session, unc)
        tree.connect()
        escape(tree)
        print("ok: every escape refused")
        return
    if mode == "signed" and not session.signing_required:
        session.signing_required = True
    tree = TreeConnect(session, unc)
    tree.connect()
    files(tree, encrypted)
    tree.disconnect()
    session.disconnect()
    conn.disconnect()
    print(f"ok: {mode} {cipher} {signing} dialect={conn.dialect:#x}")


if __name__ == "__main__":
    main()
