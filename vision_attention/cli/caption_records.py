"""The records ``vision-attention caption`` writes (lines, JSON, JSON lines or CSV), written and
read back (``--resume``) the same way.

* File names are kept whole whatever their bytes: a name that is not UTF-8 (Python holds its
  bytes as surrogate escapes) is written as JSON ``\\udcXX`` escapes, or as its own bytes in lines
  and CSV; a tab, newline or backslash in a name is escaped in the line format
  (``\\t``, ``\\n``, ``\\\\``), so that each photo stays one line.
* CSV cells of text that start with ``=``, ``+``, ``-`` or ``@`` are prefixed with ``'``, as OWASP
  advises against formula injection: a spreadsheet shows them as text instead of running them.
  Reading a CSV back (``--resume``) removes that prefix.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from pathlib import Path

FORMATS = ("lines", "json", "jsonl", "csv")
FIELDS = ("image", "caption", "score", "model", "beam_size", "constraints", "evidence", "met")
TEXT_FIELDS = ("image", "caption", "model", "constraints", "evidence", "met")
_SURROGATE = re.compile("[\ud800-\udfff]")
_FORMULA = ("=", "+", "-", "@")
_LINE_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def json_text(value) -> str:
    """JSON of ``value`` with non-ASCII kept readable and lone surrogates (a non-UTF-8 file
    name's bytes) as ``\\udcXX`` escapes, so the text is valid UTF-8 and reads back the same."""
    text = json.dumps(value, ensure_ascii=False, indent=1 if isinstance(value, list) else None)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def escape_line(text: str) -> str:
    return "".join(_LINE_ESCAPES.get(ch, ch) for ch in text)


def unescape_line(text: str) -> str:
    reverse = {v[1]: k for k, v in _LINE_ESCAPES.items()}
    return re.sub(r"\\(.)", lambda m: reverse.get(m.group(1), m.group(0)), text)


def csv_cell(value):
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def render(records: list[dict], fmt: str, header: bool = True) -> str:
    """``records`` in ``fmt``; ``header`` writes the CSV header line."""
    if fmt == "json":
        return json_text(records) + "\n"
    if fmt == "jsonl":
        return "".join(json_text(r) + "\n" for r in records)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n", extrasaction="ignore")
        if header:
            writer.writeheader()
        for record in records:
            writer.writerow({k: csv_cell(v) if k in TEXT_FIELDS else v for k, v in record.items()})
        return out.getvalue()
    return "".join(f"{escape_line(r['image'])}\t{r['caption']}\n" for r in records)


def read_records(path: Path, fmt: str) -> list[dict]:
    """The records of an output written in ``fmt`` (to resume it): one line naming the file when
    it is not such an output."""
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        if fmt == "json":
            records = json.loads(text)
            if not isinstance(records, list):
                raise ValueError("not a JSON array")
        elif fmt == "jsonl":
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        elif fmt == "csv":
            records = [
                {k: v[1:] if k in TEXT_FIELDS and v[:1] == "'" and v[1:2] in _FORMULA else v for k, v in row.items()}
                for row in csv.DictReader(io.StringIO(text))
            ]
        else:
            records = []
            for line in text.split("\n"):
                if line:
                    image, tab, caption = line.partition("\t")
                    if not tab:
                        raise ValueError(f"a line without a tab: {line[:40]!r}")
                    records.append({"image": unescape_line(image), "caption": caption})
    except (OSError, ValueError) as err:  # JSONDecodeError is a ValueError
        raise ValueError(f"--resume {path}: not a {fmt} output of this command ({err})") from err
    if not all(isinstance(r, dict) and isinstance(r.get("image"), str) for r in records):
        raise ValueError(f"--resume {path}: a record without its image")
    return records


class CaptionWriter:
    """Records out in one of ``FORMATS``: streamed to stdout as they come, or gathered for
    ``--output`` (written once, atomically, by :meth:`close`, also after an interruption).

    Args:
        fmt: one of ``FORMATS``.
        output: the file, or None for stdout.
        earlier: records of an earlier run to keep (``--resume``), written first.
    """

    def __init__(self, fmt: str, output: Path | None, earlier: list[dict] | None = None) -> None:
        self.fmt, self.output, self.records = fmt, output, list(earlier or [])
        self.earlier = len(self.records)
        if output is None:
            if hasattr(sys.stdout, "reconfigure"):
                sys.stdout.reconfigure(errors="surrogateescape")  # a name's own bytes, not an exception
            if fmt == "csv":
                sys.stdout.write(render([], fmt))

    @property
    def added(self) -> int:
        return len(self.records) - self.earlier

    def add(self, record: dict) -> None:
        self.records.append(record)
        if self.output is None and self.fmt != "json":
            sys.stdout.write(render([record], self.fmt, header=False))
            sys.stdout.flush()

    def close(self) -> Path | None:
        from ..files.outputs import write_atomically

        if self.output is None:
            if self.fmt == "json":
                sys.stdout.write(render(self.records, self.fmt))
            sys.stdout.flush()
            return None
        text = render(self.records, self.fmt)
        return write_atomically(
            self.output, lambda tmp: Path(tmp).write_text(text, encoding="utf-8", errors="surrogateescape")
        )
