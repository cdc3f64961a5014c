"""The findings report: seven questions answered from bundled studies.

:mod:`.spec` reads the question files (``scenarios/findings/<question>/``),
one module per group of questions computes each answer from its jobs'
output folders (:class:`.numbers.Finding`), and :mod:`.report` writes the
report (``substrate findings``; docs/findings.md).
"""

from .defences import four_defences, singleton_vs_many
from .drift import drift_vs_cancer
from .landscapes import landscapes
from .numbers import Finding, Number, claim_holds
from .perfect import perfect_defence
from .spec import Question, load_question, load_questions
from .variation import coding, variation

#: Question folder -> the function that answers it from its jobs' outputs:
#: ``f(question, outputs, folders) -> Finding`` (``outputs``: job -> the
#: loaded output folder; ``folders``: job -> the folder as commands name it).
ANALYSES = {"q1_variation": variation, "q2_coding": coding, "q3_landscapes": landscapes,
            "q4_singleton_vs_many": singleton_vs_many, "q5_defences": four_defences,
            "q6_perfect_defence": perfect_defence, "q7_drift_vs_cancer": drift_vs_cancer}


def analyse(question: Question, outputs: dict, folders: dict) -> Finding:
    """The finding of one question from its jobs' loaded outputs."""
    return ANALYSES[question.key](question, outputs, folders)


__all__ = ["ANALYSES", "Finding", "Number", "Question", "analyse", "claim_holds",
           "load_question", "load_questions"]
