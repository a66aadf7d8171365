"""N-MNIST from a local path: the exact reader/writer of the original 40-bit .bin format and layout validation.

The original format (garrickorchard.com/datasets/n-mnist; Orchard et al. 2015): one file per sample, a flat list
of 5-byte (40-bit) big-endian records, no header:

    byte 0  = bits 39-32  x address (pixels, 0-based, 0..33)
    byte 1  = bits 31-24  y address (pixels, 0-based, 0..33)
    byte 2  bit 7 = bit 23  polarity (0 = OFF, 1 = ON)
    byte 2  bits 6-0, byte 3, byte 4 = bits 22-0  timestamp (microseconds, 23 bits, < 2**23 = 8.39 s)

Timestamp-overflow marker (the convention of gorchard/event-Python `read_dataset` as copied into tonic
`tonic.io.read_mnist_file`): a record whose y byte is 240 is not an event; every record after it gets 2**13 = 8192 us
added to its timestamp (markers accumulate). Orchard's MATLAB `Read_Ndataset.m` has no overflow handling and
returns 1-based x, y and polarity 1 = OFF, 2 = ON. The real 34x34 N-MNIST files contain no y == 240 record
(their timestamps fit in 23 bits), so both readers agree on the real data; this reader follows tonic.

Layouts accepted under DIR (the `--data DIR` of the CLI):
    DIR/Train/<0..9>/*.bin  and  DIR/Test/<0..9>/*.bin        (the extracted original distribution)
    DIR/NMNIST/Train/...    and  DIR/NMNIST/Test/...           (tonic's save_to layout)
    DIR/Train.zip and DIR/Test.zip (or tonic's lower-case train.zip / test.zip), each holding Train/<d>/*.bin
    (resp. Test/<d>/*.bin), read in place without extracting.
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ...errors import UserError

SENSOR_SIZE = (34, 34, 2)           # (W, H, P): tonic's sensor_size order
RECORD_BYTES = 5
OVERFLOW_Y = 240
OVERFLOW_INCREMENT = 1 << 13        # 8192 us, as in event-Python / tonic
TS_BITS = 23
TS_MAX = (1 << TS_BITS) - 1
SACCADE_US = 105_000                # three saccades of ~105 ms each (tonic's stabilize / first_saccade_only)
DEFAULT_DURATION_US = 3 * SACCADE_US
SPLITS = {"train": "Train", "test": "Test"}
CLASSES = tuple(str(d) for d in range(10))

EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])


GET_DATA = ("N-MNIST is not bundled: download Train.zip and Test.zip from garrickorchard.com/datasets/n-mnist "
            "(or Mendeley Data, dataset 468j46mzdv) and give --data the folder that holds them (or their extracted "
            "Train/ and Test/ folders)")


class DataError(UserError):
    """A data file or folder is not what N-MNIST looks like; the message starts with the offending path."""


# ----------------------------------------------------------------------------------------------- the format

def decode(buf: bytes | np.ndarray, where: str = "<bytes>", sensor_size: Sequence[int] = SENSOR_SIZE,
           check: bool = True) -> np.ndarray:
    """Decode the bytes of one .bin file into a structured array (x, y, t, p) of its events (markers removed).

    With check (default) a file is rejected, naming `where`, if it is empty, truncated (length not a multiple of 5)
    or has an event outside the sensor (a corrupt file: random bytes almost never stay inside 34x34)."""
    raw = np.frombuffer(buf, dtype=np.uint8) if not isinstance(buf, np.ndarray) else buf.astype(np.uint8, copy=False)
    n = raw.size
    if check and n == 0:
        raise DataError(f"{where}: empty file (0 bytes); an N-MNIST sample holds at least one 5-byte event")
    if n % RECORD_BYTES:
        raise DataError(f"{where}: truncated or corrupt: {n} bytes is not a multiple of {RECORD_BYTES} "
                        f"(the last {n % RECORD_BYTES} byte(s) are an incomplete 40-bit event)")
    rec = raw.reshape(-1, RECORD_BYTES).astype(np.int64)
    x, y = rec[:, 0], rec[:, 1]
    p = rec[:, 2] >> 7
    t = ((rec[:, 2] & 0x7F) << 16) | (rec[:, 3] << 8) | rec[:, 4]
    marker = y == OVERFLOW_Y
    if marker.any():
        t = t + OVERFLOW_INCREMENT * np.cumsum(marker)     # marker i shifts every record from i on
    keep = ~marker
    x, y, t, p = x[keep], y[keep], t[keep], p[keep]
    if check:
        W, H = int(sensor_size[0]), int(sensor_size[1])
        bad = np.flatnonzero((x >= W) | (y >= H))
        if bad.size:
            k = int(np.flatnonzero(keep)[bad[0]])
            raise DataError(f"{where}: corrupt: record {k} (byte offset {k * RECORD_BYTES}) has x={int(rec[k, 0])}, "
                            f"y={int(rec[k, 1])}, outside the {W}x{H} sensor ({bad.size} such records)")
    ev = np.empty(x.size, EVENT_DTYPE)
    ev["x"], ev["y"], ev["t"], ev["p"] = x, y, t, p
    return ev


def read_bin(path: str | os.PathLike, **kw) -> np.ndarray:
    """Read one .bin file (see decode)."""
    path = os.fspath(path)
    try:
        buf = Path(path).read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    return decode(buf, where=path, **kw)


def encode(x, y, p, t, markers_before: Sequence[int] = ()) -> bytes:
    """Encode events in the original 40-bit format, the inverse of decode.

    t are the *decoded* timestamps (us). `markers_before` lists event indices before which an overflow marker
    (y = 240, x = 0, p = 0, raw timestamp 0) is written; the raw timestamp stored for event i is then
    t[i] - 8192 * (number of markers before it), which must lie in [0, 2**23)."""
    x, y, p, t = (np.asarray(a, dtype=np.int64).ravel() for a in (x, y, p, t))
    n = x.size
    if not (y.size == p.size == t.size == n):
        raise ValueError("x, y, p, t must have the same length")
    mb = np.sort(np.asarray(markers_before, dtype=np.int64).ravel())
    if mb.size and (mb.min() < 0 or mb.max() > n):
        raise ValueError(f"markers_before must lie in [0, {n}]")
    if ((x < 0) | (x > 255) | (y < 0) | (y > 255)).any() or (y == OVERFLOW_Y).any():
        raise ValueError("x, y must be bytes and y must not be 240 (the overflow marker)")
    if ((p != 0) & (p != 1)).any():
        raise ValueError("p must be 0 (OFF) or 1 (ON)")
    n_before = np.searchsorted(mb, np.arange(n), side="right")    # markers with index <= i precede event i
    traw = t - OVERFLOW_INCREMENT * n_before
    if (traw < 0).any() or (traw > TS_MAX).any():
        raise ValueError("a timestamp minus its overflow offset does not fit in 23 bits")
    out = np.zeros((n + mb.size, RECORD_BYTES), np.uint8)
    is_marker = np.zeros(n + mb.size, bool)
    is_marker[mb + np.arange(mb.size)] = True
    out[is_marker, 1] = OVERFLOW_Y
    ev = out[~is_marker]
    ev[:, 0] = x
    ev[:, 1] = y
    ev[:, 2] = (p << 7) | (traw >> 16)
    ev[:, 3] = (traw >> 8) & 0xFF
    ev[:, 4] = traw & 0xFF
    out[~is_marker] = ev
    return out.tobytes()


def write_bin(path: str | os.PathLike, x, y, p, t, markers_before: Sequence[int] = ()) -> None:
    """Write one .bin file in the original format (see encode)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(encode(x, y, p, t, markers_before))


# ----------------------------------------------------------------------------------------------- layout

@dataclass(frozen=True)
class Sample:
    source: str        # folder path or zip path
    member: str        # path inside the zip ('' for a plain file: then source is the file)
    label: int

    @property
    def name(self) -> str:
        return f"{self.source}!{self.member}" if self.member else self.source


def _ignored(name: str) -> bool:
    base = name.rstrip("/").split("/")[-1]
    return base.startswith(".") or "__MACOSX" in name.split("/") or base.lower() in ("thumbs.db", "readme.txt")


def _check_classes(where: str, found: dict[str, list], strays: list[str]) -> None:
    if strays:
        raise DataError(f"{strays[0]}: not inside a class folder 0..9 of {where} "
                        f"({len(strays)} such entr{'y' if len(strays) == 1 else 'ies'}); expected {where}/<digit>/*.bin")
    extra = sorted(set(found) - set(CLASSES))
    if extra:
        raise DataError(f"{where}/{extra[0]}: unexpected folder; {where} must hold exactly the class folders 0..9")
    missing = [c for c in CLASSES if c not in found]
    if missing:
        raise DataError(f"{where}: class folder(s) {', '.join(missing)} missing; expected {where}/0 .. {where}/9")
    empty = [c for c in CLASSES if not found[c]]
    if empty:
        raise DataError(f"{where}/{empty[0]}: no .bin files in this class folder")


def _scan_dir(split_dir: Path) -> list[Sample]:
    where = str(split_dir)
    found: dict[str, list] = {}
    strays: list[str] = []
    for entry in sorted(split_dir.iterdir()):
        if _ignored(entry.name):
            continue
        if entry.is_dir():
            files = []
            for f in sorted(entry.iterdir()):
                if _ignored(f.name):
                    continue
                if not (f.is_file() and f.suffix.lower() == ".bin"):
                    raise DataError(f"{f}: unexpected {'folder' if f.is_dir() else 'file'} in a class folder; "
                                    f"expected only .bin files")
                files.append(f)
            found[entry.name] = files
        else:
            strays.append(str(entry))
    _check_classes(where, found, strays)
    return [Sample(str(f), "", int(c)) for c in CLASSES for f in found[c]]


def _scan_zip(zpath: Path, folder: str) -> list[Sample]:
    try:
        zf = zipfile.ZipFile(zpath)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{zpath}: not a readable zip file ({e})") from None
    with zf:
        names = [n for n in zf.namelist() if not _ignored(n)]
    # accept Train/<d>/x.bin (the original) or <d>/x.bin at the zip's top
    prefix = f"{folder}/" if any(n.lower().startswith(folder.lower() + "/") for n in names) else ""
    if prefix:
        prefix = next(n for n in names if n.lower().startswith(folder.lower() + "/"))[:len(folder) + 1]
    where = f"{zpath}!{prefix.rstrip('/')}" if prefix else str(zpath)
    found: dict[str, list] = {}
    strays: list[str] = []
    for n in sorted(names):
        if n.endswith("/"):
            rel = n[len(prefix):].rstrip("/") if n.startswith(prefix) else None
            if rel and "/" not in rel:
                found.setdefault(rel, [])
            continue
        if not n.startswith(prefix):
            strays.append(f"{zpath}!{n}")
            continue
        parts = n[len(prefix):].split("/")
        if len(parts) != 2:
            strays.append(f"{zpath}!{n}")
            continue
        if not parts[1].lower().endswith(".bin"):
            raise DataError(f"{zpath}!{n}: unexpected file in a class folder; expected only .bin files")
        found.setdefault(parts[0], []).append(n)
    _check_classes(where, found, strays)
    return [Sample(str(zpath), m, int(c)) for c in CLASSES for m in found[c]]


def _find_ci(d: Path, name: str) -> list[Path]:
    if not d.is_dir():
        return []
    return [e for e in d.iterdir() if e.name.lower() == name.lower()]


def locate(root: str | os.PathLike, split: str) -> list[Sample]:
    """The validated list of samples of one split ('train' or 'test') under root, sorted by (label, name)."""
    root = Path(os.fspath(root)).expanduser()
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}")
    folder = SPLITS[split]
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (give --data the folder that holds {folder}/ or {folder}.zip). "
                        f"{GET_DATA}", "data")
    for base in (root, root / "NMNIST"):
        dirs = [d for d in _find_ci(base, folder) if d.is_dir()]
        if len(dirs) > 1:
            raise DataError(f"{base}: both {' and '.join(d.name for d in dirs)} exist; keep one")
        if dirs:
            return _scan_dir(dirs[0])
    for base in (root, root / "NMNIST"):
        zips = [z for z in _find_ci(base, folder + ".zip") if z.is_file()]
        if len(zips) > 1:
            raise DataError(f"{base}: both {' and '.join(z.name for z in zips)} exist; keep one")
        if zips:
            return _scan_zip(zips[0], folder)
    seen = sorted(e.name for e in root.iterdir())[:12]
    raise DataError(f"{root}: no N-MNIST {split} split: expected {root}/{folder}/0..9/*.bin or {root}/{folder}.zip "
                    f"(the original distribution). Found: {', '.join(seen) if seen else 'an empty folder'}. {GET_DATA}", "data")


def read_sample(s: Sample, zf_cache: dict | None = None, **kw) -> np.ndarray:
    """The events of one located sample, from its file or from inside its zip (zf_cache: open zips by path)."""
    if not s.member:
        return read_bin(s.source, **kw)
    zf_cache = {} if zf_cache is None else zf_cache
    zf = zf_cache.get(s.source)
    if zf is None:
        zf = zf_cache[s.source] = zipfile.ZipFile(s.source)
    try:
        buf = zf.read(s.member)
    except (zipfile.BadZipFile, KeyError, OSError) as e:   # a damaged member: CRC error and the like
        raise DataError(f"{s.name}: cannot read: {e}") from None
    return decode(buf, where=s.name, **kw)
