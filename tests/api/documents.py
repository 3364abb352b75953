"""documents.py — test documents made on the fly for the black-box API tests.

Everything the tests upload is generated here instead of being checked in:
PDFs by a tiny hand-written PDF writer (real xref offsets, Helvetica text),
PNG with zlib+struct, JPEG and TIFF by Ghostscript from a few lines of
PostScript, ZIP with zipfile.  Results are cached per process because the
Ghostscript ones cost a subprocess each.
"""

import functools
import io
import os
import random
import struct
import subprocess
import tempfile
import zipfile
import zlib

__all__ = [
    "pdf_pages", "pdf_text", "corrupt_pdf", "png_image", "jpeg_image",
    "tiff_image", "zip_archive", "random_binary", "utf8_text", "pdf_broken_drawing",
]


def _pdf_escape(text):
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_pages(pages):
    """A valid PDF with one US-letter page per string in `pages` (ASCII text)."""
    objects = []  # object bodies; object number = index + 1
    n = len(pages)
    first_page_obj = 4
    kids = " ".join(f"{first_page_obj + 2 * i} 0 R" for i in range(n))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, text in enumerate(pages):
        content_obj = first_page_obj + 2 * i + 1
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content_obj} 0 R >>".encode())
        lines = ["BT", "/F1 14 Tf", "72 720 Td", "18 TL"]
        for line in text.split("\n"):
            lines.append(f"({_pdf_escape(line)}) Tj T*")
        lines.append("ET")
        # a thick rule so every page has some black pixels besides the text
        lines.append("0 g 72 100 468 6 re f")
        stream = "\n".join(lines).encode("ascii")
        objects.append(b"<< /Length " + str(len(stream)).encode() +
                       b" >>\nstream\n" + stream + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{num} 0 obj\n".encode() + body + b"\nendobj\n")
    xref_at = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n".encode())
    out.write(b"0000000000 65535 f \n")
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n"
              f"startxref\n{xref_at}\n%%EOF\n".encode())
    return out.getvalue()


def _pdf_from_objects(objects):
    """A PDF of the given object bodies (object number = index + 1, 1 = catalog)."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{num} 0 obj\n".encode() + body + b"\nendobj\n")
    xref_at = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n".encode())
    out.write(b"0000000000 65535 f \n")
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n"
              f"startxref\n{xref_at}\n%%EOF\n".encode())
    return out.getvalue()


def _pdf_stream(dict_body, data):
    return b"<< " + dict_body + b" /Length " + str(len(data)).encode() + b" >>\nstream\n" + data + b"\nendstream"


def pdf_broken_drawing(kind):
    """A one-page PDF whose page Ghostscript can draw only in part: kind "self_form"
    (a form XObject that draws itself: a circular reference), "external_stream" (an
    image whose data is in a file outside the PDF, which -dSAFER refuses to open), or
    "clean" (the same page with a harmless form, for comparison)."""
    content = b"0 g 72 100 468 6 re f\nq 100 0 0 100 100 300 cm /X1 Do Q\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /XObject << /X1 5 0 R >> >> /Contents 4 0 R >>",
        _pdf_stream(b"", content),
    ]
    if kind == "self_form":
        objects.append(_pdf_stream(b"/Type /XObject /Subtype /Form /BBox [0 0 1 1] "
                                   b"/Resources << /XObject << /X1 5 0 R >> >>", b"/X1 Do\n"))
    elif kind == "external_stream":
        objects.append(b"<< /Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray "
                       b"/BitsPerComponent 8 /F (/etc/hostname) /Length 0 >>\nstream\n\nendstream")
    elif kind == "clean":
        objects.append(_pdf_stream(b"/Type /XObject /Subtype /Form /BBox [0 0 1 1]", b"0 g 0 0 1 1 re f\n"))
    else:
        raise ValueError(kind)
    return _pdf_from_objects(objects)


def pdf_text(n_pages, lines_per_page=8):
    """An n-page PDF whose pages say which page they are."""
    pages = []
    for p in range(1, n_pages + 1):
        body = [f"Faxbot test document, page {p} of {n_pages}"]
        body += [f"Line {i}: the quick brown fox jumps over the lazy dog."
                 for i in range(1, lines_per_page + 1)]
        pages.append("\n".join(body))
    return pdf_pages(pages)


def corrupt_pdf(size=4096):
    """Starts like a PDF (so it sniffs as one) but is garbage after that."""
    rnd = random.Random(4242)
    return b"%PDF-1.4\n" + bytes(rnd.getrandbits(8) for _ in range(size))


def utf8_text():
    return ("Faxbot UTF-8 test\n"
            "Grüße aus Köln — naïve café, Ελληνικά, 日本語, ✓\n"
            "Second line with plain ASCII.\n").encode("utf-8")


def _png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xffffffff)


def png_image(width=240, height=120):
    """An 8-bit grayscale PNG with black stripes on white."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type None
        for x in range(width):
            rows.append(0 if (x // 12 + y // 12) % 2 == 0 else 255)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) +
            _png_chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + _png_chunk(b"IEND", b""))


_PS_PICTURE = b"""%!PS
/Helvetica findfont 28 scalefont setfont
0 setgray 20 60 moveto (Faxbot image) show
newpath 10 10 moveto 280 10 lineto 280 40 lineto 10 40 lineto closepath fill
showpage
"""


def _gs_render(device, extra_args, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.ps")
        dst = os.path.join(tmp, "out" + suffix)
        with open(src, "wb") as f:
            f.write(_PS_PICTURE)
        subprocess.run(["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE",
                        f"-sDEVICE={device}", *extra_args,
                        f"-sOutputFile={dst}", src],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=60)
        with open(dst, "rb") as f:
            return f.read()


@functools.lru_cache(maxsize=None)
def jpeg_image():
    data = _gs_render("jpeggray", ["-g300x100", "-r72"], ".jpg")
    assert data[:3] == b"\xff\xd8\xff", "ghostscript did not produce a JPEG"
    return data


@functools.lru_cache(maxsize=None)
def tiff_image():
    data = _gs_render("tiffg4", ["-g600x200", "-r200"], ".tif")
    assert data[:4] in (b"II*\x00", b"MM\x00*"), "ghostscript did not produce a TIFF"
    return data


def zip_archive():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("letter.txt", "hello inside a zip\n" * 20)
    return buf.getvalue()


def random_binary(size=8192, seed=7):
    rnd = random.Random(seed)
    data = bytes(rnd.getrandbits(8) for _ in range(size))
    # must not look like any supported type by accident
    assert not data.startswith((b"%PDF", b"\x89PNG", b"\xff\xd8", b"II*", b"MM\x00"))
    return b"\x00\x01\xfe" + data


def bilevel_tiff(width=2550, height=3300, dpi=300):
    """An uncompressed one-strip bilevel TIFF (little-endian, Compression=1,
    Photometric=0 min-is-white so a 1 bit is black) with bars, a checkerboard and a
    frame drawn on it; resolution dpi x dpi, ResolutionUnit inch."""
    row_bytes = (width + 7) // 8

    def row_with(black_ranges):
        bits = bytearray(row_bytes)
        for x0, x1 in black_ranges:
            for x in range(max(0, x0), min(width, x1)):
                bits[x >> 3] |= 0x80 >> (x & 7)
        return bytes(bits)

    m = dpi // 4  # a quarter-inch margin
    blank = bytes(row_bytes)
    frame_side = row_with([(m, m + 12), (width - m - 12, width - m)])
    frame_edge = row_with([(m, width - m)])
    bar = row_with([(m + 60, width // 2)])
    checks = [row_with([(x, x + 40) for x in range(m + 60 + 40 * p, width - m - 60, 80)])
              for p in (0, 1)]
    rows = []
    for y in range(height):
        if y < m or y >= height - m:
            rows.append(blank)
        elif y < m + 12 or y >= height - m - 12:
            rows.append(frame_edge)
        elif m + 150 <= y < m + 190 or m + 300 <= y < m + 306:
            rows.append(bar)
        elif height // 3 <= y < height // 3 + 800:
            rows.append(checks[((y - height // 3) // 40) % 2])
        else:
            rows.append(frame_side)
    image = b"".join(rows)

    entries = []  # (tag, type, count, value bytes or int)
    header_len = 8
    tags = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 1), (259, 3, 1, 1),
            (262, 3, 1, 0), (273, 4, 1, None), (277, 3, 1, 1), (278, 4, 1, height),
            (279, 4, 1, len(image)), (282, 5, 1, None), (283, 5, 1, None), (296, 3, 1, 2)]
    n = len(tags)
    ifd_len = 2 + 12 * n + 4
    res_at = header_len + ifd_len            # two RATIONALs (8 bytes each)
    strip_at = res_at + 16
    for tag, typ, count, value in tags:
        if tag == 273:
            value = strip_at
        elif tag == 282:
            value = res_at
        elif tag == 283:
            value = res_at + 8
        entries.append((tag, typ, count, value))
    out = bytearray(b"II*\x00" + struct.pack("<I", header_len))
    out += struct.pack("<H", n)
    for tag, typ, count, value in entries:
        if typ == 3:
            out += struct.pack("<HHIHH", tag, typ, count, value, 0)
        else:
            out += struct.pack("<HHII", tag, typ, count, value)
    out += struct.pack("<I", 0)
    out += struct.pack("<IIII", dpi, 1, dpi, 1)
    assert len(out) == strip_at
    out += image
    return bytes(out)
