"""Reading the user's text files (landmark files, tables) in whatever
encoding a program saved them.

:func:`read_text` is the one way the landmark readers read a file: a
byte-order mark decides the encoding (UTF-32 little- or big-endian, UTF-16
little- or big-endian, as Notepad's "Unicode" saves, or UTF-8), else the
text is UTF-8, else Latin-1 (every byte is a Latin-1 character, so that a
file saved in a Windows code page still reads).  A file that cannot be text
(a photo, an Excel workbook, UTF-16 without its byte-order mark) is a
:class:`~beetles.core.errors.DataError` of one line saying what it looks
like, instead of a page of garbage characters.
"""
from __future__ import annotations

from pathlib import Path

from beetles.core.errors import DataError

#: Byte-order marks and their codecs; UTF-32 LE's begins with UTF-16 LE's, so it comes first.
BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32"),
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32"),
    (b"\xff\xfe", "utf-16-le", "UTF-16"),
    (b"\xfe\xff", "utf-16-be", "UTF-16"),
    (b"\xef\xbb\xbf", "utf-8", "UTF-8"),
)

#: How common binary files begin, and what to call them.
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook? save it as CSV)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office file (an Excel .xls workbook? save it as CSV)"),
)

#: The bytes looked at to tell UTF-16 or UTF-32 without a byte-order mark from binary data.
_SAMPLE = 4096


def read_text(path, what: str = "file") -> str:
    """The text of the file at ``path`` (see the module's notes).

    ``what`` names the file in messages: ``"{path}: {what} not found"``
    when it does not exist; a :class:`DataError` of one line when it cannot
    be read (a folder, no permission) or is not text.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: a folder, not a {what}") from None
    except (OSError, ValueError) as error:  # no permission, a name too long, a NUL in the name
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise DataError(f"{path}: cannot read the {what} ({reason})") from None
    for bom, codec, name in BOMS:
        if data.startswith(bom):
            body = data[len(bom):]
            try:
                return body.decode(codec)
            except UnicodeDecodeError as error:
                if codec == "utf-8":
                    return body.decode("latin-1")  # a BOM, then a Windows code page: as without the BOM
                raise DataError(f"{path}: begins with a {name} byte-order mark but is not {name} text "
                                f"(byte {error.start + len(bom)}); save it as UTF-8") from None
    for signature, kind in SIGNATURES:
        if data.startswith(signature):
            raise DataError(f"{path}: {kind}, not a text {what}")
    if b"\x00" in data:
        raise DataError(f"{path}: {_nul_kind(data, what)}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _nul_kind(data: bytes, what: str) -> str:
    """What a file with NUL bytes and no byte-order mark looks like: UTF-16 or
    UTF-32 text (ASCII characters leave every other, or three in four, bytes
    0), else binary data."""
    sample = data[:_SAMPLE]
    zeros = sorted(sample[k::4].count(0) / max(1, len(sample[k::4])) for k in range(4))
    by_parity = sorted(sample[k::2].count(0) / max(1, len(sample[k::2])) for k in range(2))
    if zeros[0] <= 0.2 and zeros[1] >= 0.8:  # three of every four bytes are 0
        encoding = "UTF-32"
    elif by_parity[0] <= 0.2 and by_parity[1] >= 0.8:  # every other byte is 0
        encoding = "UTF-16"
    else:
        return f"binary data (a NUL byte at byte {data.index(0)}), not a text {what}"
    return (f"looks like {encoding} text without a byte-order mark (NUL bytes between the characters); "
            "save it as UTF-8 (e.g. Notepad: Save as, Encoding UTF-8)")
