"""Looks at a PNG (a headless browser's screenshot): prints, as JSON, how many pixels it has, how many are not
white, and how many are each of the colours named on the command line (#rrggbb, within 8 per channel). Standard
library only. Usage, from the repository root: python -m tests.emulator.tools.look FILE.png [#rrggbb ...]"""

import json
import struct
import sys
import zlib


def pixels(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    at, idat, header = 8, b"", None
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        at += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    width, height, depth, colour, _, _, interlace = header
    channels = {2: 3, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise SystemExit(f"{path}: only 8-bit RGB/RGBA, not interlaced (depth {depth}, colour type {colour})")
    raw, stride, rows, prev = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = prev[i], prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append(line)
        prev = line
    for line in rows:
        for x in range(width):
            yield tuple(line[x * channels : x * channels + 3])


def main():
    path, wanted = sys.argv[1], [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in sys.argv[2:]]
    total, ink, counts = 0, 0, [0] * len(wanted)
    for rgb in pixels(path):
        total += 1
        ink += rgb != (255, 255, 255)
        for n, w in enumerate(wanted):
            if all(abs(a - b) <= 8 for a, b in zip(rgb, w)):
                counts[n] += 1
    print(json.dumps({"pixels": total, "not_white": ink, "colours": dict(zip(sys.argv[2:], counts))}))


if __name__ == "__main__":
    main()
