"""What a strict mail server or reader would hold against a letter's bytes."""
import re

ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def wire_problems(raw: bytes, eight_bit: bool = True) -> list[str]:
    """What a strict mail server or reader would hold against these bytes (RFC 5321/5322/2045/2047)."""
    problems = []
    if b"\n" in raw.replace(b"\r\n", b"") or b"\r" in raw.replace(b"\r\n", b""):
        problems.append("a line ends in a bare LF or CR")
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = raw.split(b"\r\n")
    if max(len(line) for line in lines) > 998:
        problems.append("a line over 998 octets")
    for line in head.split(b"\r\n"):
        unfoldable = b" " not in line.split(b": ", 1)[-1].strip() and not line[:1].isspace()
        if len(line) > 78 and not line.startswith(b"List-Unsubscribe:") and not unfoldable:
            problems.append(f"a header line of {len(line)} characters: {line[:40]!r}")
        # A name is one word however long (compose.py says why); every other word keeps to 75.
        if not line.startswith(b"To:") and any(len(word) > 75 for word in ENCODED_WORD.findall(line)):
            problems.append(f"an encoded word over 75 characters: {line[:40]!r}")
    encoding = re.search(rb"(?im)^Content-Transfer-Encoding: *(\S+)", head)
    if encoding and encoding.group(1).lower() in (b"quoted-printable", b"base64"):
        if max(len(line) for line in body.split(b"\r\n")) > 76:
            problems.append("an encoded body line over 76 characters")
    if not eight_bit and not body.isascii():
        problems.append("8-bit text for a server without 8BITMIME")
    return problems
