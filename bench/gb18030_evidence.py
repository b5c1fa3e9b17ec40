"""Evidence for docs/decisions.md (issue 16 item 4): may a feedback CSV that is not UTF-8 be read as
GB18030 (what Excel's and WPS's plain "CSV" save on Simplified-Chinese Windows: code page 936, GBK,
which GB18030 contains) instead of being refused ENCODING?

Measures, on the shipped sample's Chinese texts (names, labels, free text of the sample feedback):
1. a GB18030 file is never valid UTF-8 (it could otherwise be read wrongly as UTF-8);
2. a GB18030 file decodes back exactly;
3. files in other encodings a county might send (Big5, Shift_JIS, EUC-KR, cp1252, UTF-16) —
   how often they would *also* decode as GB18030 (read as garbage instead of refused).

Run: .venv/bin/python bench/gb18030_evidence.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def texts() -> list[str]:
    out = []
    with open(ROOT / "data/sample/push/2026-11-full/persons.csv", encoding="utf-8-sig", newline="") as fh:
        out += [r["name"] for r in csv.DictReader(fh) if r.get("name")]
    with open(ROOT / "data/labels.csv", encoding="utf-8", newline="") as fh:
        out += [v for r in csv.DictReader(fh) for v in (r["label_zh"], r["help_zh"]) if v]
    for f in sorted((ROOT / "data/sample/feedback").glob("*.csv")):
        out += [f.read_text(encoding="utf-8-sig")]
    return out


def decodes(data: bytes, enc: str) -> bool:
    try:
        data.decode(enc)
        return True
    except UnicodeDecodeError:
        return False


def in_gb2312(text: str) -> bool:
    try:
        text.encode("gb2312")
        return True
    except UnicodeEncodeError:
        return False


def main() -> None:
    rnd = random.Random(16)
    t = texts()
    # files of 1-40 texts joined as CSV cells, like a feedback file's free text and names
    files = [",".join(rnd.sample(t, rnd.randint(1, 40))) for _ in range(5000)]
    singles = [s for s in t if any(ord(c) > 127 for c in s)]
    gb = [f.encode("gb18030") for f in files]
    print(f"texts: {len(t)}; synthetic files: {len(files)}")
    print(
        f"1. GB18030 files that are valid UTF-8: {sum(decodes(b, 'utf-8') for b in gb)} of {len(gb)}; "
        f"single non-ASCII texts: {sum(decodes(s.encode('gb18030'), 'utf-8') for s in singles)} of {len(singles)}"
    )
    print(
        f"2. GB18030 files decoding back exactly: {sum(b.decode('gb18030') == f for b, f in zip(gb, files))} of {len(gb)}"
    )
    print(
        f"   (the single texts that are valid UTF-8 too: "
        f"{sorted(s for s in singles if decodes(s.encode('gb18030'), 'utf-8'))[:11]})"
    )
    print(
        f"4. guard: every non-ASCII character within GB2312 — sample files passing: "
        f"{sum(in_gb2312(f) for f in files)} of {len(files)}; single texts: "
        f"{sum(in_gb2312(s) for s in singles)} of {len(singles)}"
    )
    for enc in ("big5", "shift_jis", "euc_kr", "cp1252", "utf-16"):
        enc_files = []
        for f in files:
            try:
                enc_files.append(f.encode(enc))
            except UnicodeEncodeError:
                pass
        ok = sum(decodes(b, "gb18030") and not decodes(b, "utf-8") for b in enc_files)
        guarded = sum(
            decodes(b, "gb18030") and not decodes(b, "utf-8") and in_gb2312(b.decode("gb18030")) for b in enc_files
        )
        print(
            f"3. {enc}: {len(enc_files)} files encodable; read as GB18030 without error: {ok}; "
            f"also passing the GB2312 guard: {guarded}"
        )


if __name__ == "__main__":
    main()
