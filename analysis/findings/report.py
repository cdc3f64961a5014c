"""The findings report: ``findings.json``, ``findings.html`` and
``findings.md`` (the documentation site's page) with one figure per question.

The page is built once as a list of blocks (headings, paragraphs, tables,
lists, code, figures) and rendered twice, as Markdown and as one
self-contained HTML file (figures inline), so the two never say different
things.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

from simulation import io

from .numbers import NO_UPPER_END, Finding, claim_holds, fmt
from .spec import TIERS, Question, job_command, shown

#: The folder of the figures, in the output and in docs/.
FIGURES = "figures"


def figure_name(question: Question) -> str:
    return f"findings-{question.key}.png"


def _number_row(number, claims: dict) -> list[str]:
    claim = claims.get(number.name)
    verdict = ""
    if claim is not None:
        verdict = (f"[{fmt(claim[0], 2)}, {fmt(claim[1], 2)}]: "
                   + ("holds" if claim_holds(number, claim) else "**refuted**"))
    interval = ("" if number.low is None and number.high is None else
                f"[{fmt(number.low)}, {NO_UPPER_END if number.high is None else fmt(number.high)}]")
    return [number.label, fmt(number.value), interval, number.interval, verdict]


def _sizes(question: Question, tier: str) -> str:
    parts = []
    for name, job in question.jobs.items():
        sizes = {k: v for k, v in getattr(job, tier) if v not in (None, {})}
        text = ", ".join(f"{k} {v}" for k, v in sizes.items()) or "the file's own"
        parts.append(f"`{name}` ({job.kind} of `{job.file}`): {text}")
    return "; ".join(parts)


def _analysis(question: Question) -> str:
    """The function that answers a question, as the report names it."""
    from . import ANALYSES

    function = ANALYSES[question.key]
    return f"`{function.__module__}.{function.__name__}`"


def question_blocks(question: Question, finding: Finding, tier: str, folders: dict) -> list:
    """The blocks of one question's section."""
    status = "" if finding.status == "answered" else " (not answered yet)"
    claims = question.claims()
    blocks = [("h2", f"{question.number}. {question.title}{status}"),
              ("p", f"**Question.** {question.question}"),
              ("p", f"**Answer.** {finding.answer}"),
              ("img", f"{FIGURES}/{figure_name(question)}", question.title),
              ("h3", "Numbers"),
              ("table", ["number", "value", "95% interval", "how", "claim"],
               [_number_row(n, claims) for n in finding.numbers]),
              ("p", f"**Claim.** {question.claim}"),
              ("p", f"**How the answer is decided.** {question.decision}"),
              ("h3", "Reproduce"),
              ("p", f"Sizes at this tier ({tier}): {_sizes(question, tier)}. The whole "
                    "question, or each job alone from the repository's root (a risk "
                    "estimate or a study prints its result as it ends):"),
              ("code", "\n".join([f"substrate findings --tier {tier} --only {question.key}"]
                                 + [shown(job_command(question, name, tier, folders[name]))
                                    for name in question.jobs]))]
    printed = list(dict.fromkeys(n.command for n in finding.numbers if n.command))
    if printed:
        blocks += [("p", "Then these print the numbers above (the others are computed by "
                         f"`analysis.findings` from the jobs' tables: {_analysis(question)}):"),
                   ("code", "\n".join(printed))]
    blocks += [("h3", "Assumptions"), ("ul", list(question.assumptions)),
               ("h3", "Limits"), ("ul", list(question.limits))]
    return blocks


def page_blocks(questions, findings: dict, tier: str, manifest: dict, folders: dict) -> list:
    """Every block of the report, the provenance first."""
    other = [t for t in TIERS if t != tier]
    seconds = manifest.get("seconds")
    cpu = manifest.get("cpu_seconds")
    blocks = [("h1", "Findings"),
              ("p", "Seven questions about natural selection inside and between AI systems, "
                    "each answered from bundled studies (`scenarios/findings/`) by one "
                    "command. Every answer is decided from the numbers by a rule stated "
                    "with the question; every number carries its 95% interval and the "
                    "commands that reproduce it; each claimed number is checked against "
                    "its claim at the quick tier by the test suite (`tests/test_findings.py`"
                    "). An answer can only be as good as the model: each question lists "
                    "what it assumes and where it stops."),
              ("p", f"**This page: tier `{tier}`**"
                    + (f" (the `{other[0]}` tier is the same questions at other sizes)"
                       if other else "")
                    + f", made by `{' '.join(manifest.get('command') or [])}` with "
                    f"substrate {manifest['versions'].get('substrate')} on "
                    f"{manifest.get('started', '')[:10]}"
                    + (f", {seconds / 60:.1f} minutes of wall-clock time" if seconds else "")
                    + (f" and {cpu / 60:.1f} minutes of CPU" if cpu else "")
                    + f" on {manifest.get('host')}"
                    + (" (a resumed report: these times are this invocation's; each job's "
                       "folder records its own)" if "--resume" in (manifest.get("command") or [])
                       else "") + "."),
              ("ul", [f"[{q.number}. {q.title}](#{_anchor(q, findings[q.key])}): "
                      f"{q.question}" for q in questions])]
    for q in questions:
        blocks += question_blocks(q, findings[q.key], tier, folders[q.key])
    return blocks


def _anchor(question, finding) -> str:
    """The heading's anchor as MkDocs makes it (lower case, words joined by -)."""
    text = f"{question.number}. {question.title}" + (
        "" if finding.status == "answered" else " (not answered yet)")
    kept = "".join(c for c in text.lower() if c.isalnum() or c in " -_")
    return "-".join(kept.split())


def markdown(blocks) -> str:
    """The blocks as Markdown (MkDocs)."""
    out = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + block[1])
        elif kind == "p":
            out.append(block[1])
        elif kind == "img":
            out.append(f"![{block[2]}]({block[1]})")
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in block[1]))
        elif kind == "code":
            out.append(f"```\n{block[1]}\n```")
        elif kind == "table":
            head, rows = block[1], block[2]
            lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
                      for row in rows]
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def _inline(text: str) -> str:
    """Markdown's inline code, bold and links as HTML (escaped first)."""
    import re

    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
    return re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"<a href='\2'>\1</a>", text)


def html_page(blocks, folder: Path) -> str:
    """The blocks as one HTML page, figures inline."""
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>Findings</title>",
           "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;}"
           "table{border-collapse:collapse;font-size:small}td,th{border:1px solid #ccc;"
           "padding:2px 6px}pre{background:#f6f6f6;padding:1em;overflow:auto}"
           "img{max-width:100%}</style></head><body>"]
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            ident = "-".join("".join(c for c in block[1].lower()
                                     if c.isalnum() or c in " -_").split())
            out.append(f"<{kind} id='{ident}'>{_inline(block[1])}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{_inline(block[1])}</p>")
        elif kind == "img":
            data = base64.b64encode((folder / block[1]).read_bytes()).decode()
            out.append(f"<img alt='{html.escape(block[2])}' "
                       f"src='data:image/png;base64,{data}'>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block[1]) + "</ul>")
        elif kind == "code":
            out.append(f"<pre>{html.escape(block[1], quote=False)}</pre>")
        elif kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block[1])
            rows = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>"
                           for row in block[2])
            out.append(f"<table><tr>{head}</tr>{rows}</table>")
    return "\n".join(out + ["</body></html>"])


def _clean(value):
    """NaN as None (JSON has no NaN)."""
    return None if isinstance(value, float) and math.isnan(value) else value


def findings_data(questions, findings: dict, tier: str) -> dict:
    """What ``findings.json`` holds: per question its answer, status, numbers
    and whether each claimed number's claim holds."""
    data = {"tier": tier, "questions": {}}
    for q in questions:
        f = findings[q.key]
        claims = q.claims()
        data["questions"][q.key] = {
            "number": q.number, "title": q.title, "question": q.question,
            "answer": f.answer, "status": f.status,
            "numbers": [{k: _clean(v) for k, v in n.as_dict().items()} for n in f.numbers],
            "claims": {name: {"range": list(claims[name]),
                              "holds": claim_holds(f.number(name), claims[name])}
                       for name in claims if any(n.name == name for n in f.numbers)}}
    return data


def write_report(folder: Path, questions, findings: dict, tier: str, manifest: dict,
                 folders: dict) -> list[str]:
    """Write the figures, ``findings.json``, ``findings.md`` and
    ``findings.html`` into ``folder`` (each atomically); returns their names."""
    from ..plots import save

    (folder / FIGURES).mkdir(exist_ok=True)
    key = io.key_provenance(manifest)
    files = []
    for q in questions:
        name = f"{FIGURES}/{figure_name(q)}"
        save(findings[q.key].figure, folder / name, provenance=key)
        files.append(name)
    blocks = page_blocks(questions, findings, tier, manifest, folders)
    data = findings_data(questions, findings, tier)
    data["provenance"] = manifest
    io.write_json(data, folder / "findings.json")
    io.write_text(markdown(blocks), folder / "findings.md")
    io.write_text(html_page(blocks, folder), folder / "findings.html")
    return files + ["findings.json", "findings.md", "findings.html"]


def summary_text(questions, findings: dict) -> str:
    """The answers, one paragraph per question (what the command prints)."""
    return "\n".join(f"{q.number}. {q.title}: {findings[q.key].answer}" for q in questions)
