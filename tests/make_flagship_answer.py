"""The bundled answer of ``defence_flagship`` (tests/data/defence_flagship_answer.json).

    substrate study defence_flagship --out results/defence_flagship-study
    python -m tests.make_flagship_answer results/defence_flagship-study

writes the answer (:func:`analysis.gradual.answer`: per N and T, the
multi-hit theory's efficacy and the simulated one with its 95% range, or
the reason a cell is not resolved) and prints it as the Markdown table that
README.md and docs/rare-events.md hold. ``tests/test_scenario_claims.py``
checks the README, the docs and the scenario's header against the file,
and (slow) that the study reproduces it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PATH = Path(__file__).resolve().parent / "data" / "defence_flagship_answer.json"


def main(argv=None) -> int:
    from analysis.gradual import answer, answer_markdown

    argv = sys.argv[1:] if argv is None else argv
    result = json.loads((Path(argv[0]) / "study.json").read_text())
    data = answer(result)
    PATH.write_text(json.dumps(data, indent=1) + "\n")
    print(answer_markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
