"""The heuristic planner: a plan from keywords when no LLM is configured.

The platform must work offline and without an LLM, so this planner turns a Korean or English
request into the same ``Plan`` an LLM planner would produce, from keyword tables. It is
deliberately predictable: every analysis ingests the upload (if any) and profiles the data
first, because every later agent reads the dataset the profile describes; a request that names
nothing specific gets a general exploration with charts, since that is what a user who says
"analyze this" expects.

Matching is case-insensitive. Korean keywords match as substrings (Korean attaches particles
and endings to words: "분석해줘" contains "분석"); English keywords match at word starts so stems
cover inflections ("predict" → "prediction"), and short tokens such as "ML" or "SQL" match only
as whole words, so "html" does not plan a model.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from analystack.errors import AgentUnavailableError
from orchestrator.plan import ExecutionRef, Plan, PlanStep, StepInput, StepOutputRef

Intent = Literal["quality", "eda", "visualization", "automl", "mlops", "codegen", "nlp", "realtime"]
Language = Literal["ko", "en"]

#: Intents in the order their steps appear in a plan (codegen last: it reproduces the others).
INTENT_ORDER: tuple[Intent, ...] = (
    "quality",
    "eda",
    "visualization",
    "automl",
    "mlops",
    "nlp",
    "realtime",
    "codegen",
)


class DataSource(BaseModel):
    """Where the data comes from.

    ``upload`` is a file the gateway just stored in S3 (the plan starts by ingesting it, and
    the execution input carries ``upload.source_uri``/``upload.filename``); ``dataset`` is a
    dataset already in the hub (the execution input carries ``dataset_id``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["upload", "dataset"]


@dataclass(frozen=True)
class _StepSpec:
    agent: str
    skill: str
    en: str
    ko: str


_STEPS: dict[str, _StepSpec] = {
    "ingest": _StepSpec(
        "ingestion",
        "ingest",
        "Load the uploaded file into the data hub as a dataset",
        "업로드된 파일을 데이터 허브에 데이터셋으로 적재",
    ),
    "quality": _StepSpec(
        "quality",
        "assess_quality",
        "Profile the data and assess its quality (missing values, outliers, types)",
        "데이터 프로파일링 및 품질 평가 (결측치, 이상치, 타입)",
    ),
    "clean": _StepSpec(
        "quality",
        "clean_data",
        "Treat the data problems the request names and store the cleaned dataset",
        "요청한 데이터 문제를 처리하고 정제된 데이터셋을 저장",
    ),
    "eda": _StepSpec(
        "eda", "explore", "Explore distributions, correlations and patterns", "분포, 상관관계, 패턴 탐색"
    ),
    "visualization": _StepSpec(
        "visualization",
        "visualize",
        "Recommend and render charts and a dashboard",
        "데이터에 맞는 차트와 대시보드 생성",
    ),
    "automl": _StepSpec(
        "automl", "train_model", "Train, tune and evaluate prediction models", "예측 모델 학습, 튜닝 및 평가"
    ),
    "mlops": _StepSpec(
        "mlops",
        "track_model",
        "Track the experiment and register the trained model",
        "실험 기록 및 학습된 모델 등록",
    ),
    "nlp": _StepSpec(
        "nlp",
        "answer_question",
        "Answer the question in natural language over the data",
        "자연어 질문에 대해 데이터로 답변",
    ),
    "realtime": _StepSpec(
        "realtime",
        "stream_summary",
        "Summarise the stream with windowed aggregates",
        "스트림 데이터를 시간 구간별로 집계 요약",
    ),
    "codegen": _StepSpec(
        "codegen",
        "generate_notebook",
        "Generate a reproducible Python notebook of the analysis",
        "분석을 재현하는 파이썬 노트북 생성",
    ),
}

# English terms: (regex fragment, whole word?). A prefix term matches at a word start and
# absorbs the rest of the word; a whole-word term must also end at a word boundary.
_EN_TERMS: dict[Intent, tuple[tuple[str, bool], ...]] = {
    "quality": (
        ("clean", False),
        ("quality", False),
        ("missing", False),
        ("outlier", False),
        ("profil", False),
        ("anomal", False),
        ("duplicat", False),
    ),
    "eda": (
        ("analy[sz]", False),
        ("statistic", False),
        ("stats", True),
        ("correlat", False),
        ("distribut", False),
        ("explor", False),
        ("insight", False),
        ("trend", False),
        ("eda", True),
        ("pattern", False),
    ),
    "visualization": (
        ("chart", False),
        ("plot", False),
        ("graph", False),
        ("visuali[sz]", False),
        ("dashboard", False),
        ("histogram", False),
        ("heatmap", False),
    ),
    "automl": (
        ("predict", False),
        ("forecast", False),
        ("model", False),
        ("train", False),
        ("retrain", False),
        ("refit", False),
        ("classif", False),
        ("regress", False),
        (r"machine\s+learning", False),
        ("ml", True),
        ("automl", True),
    ),
    "mlops": (
        ("deploy", False),
        ("drift", False),
        ("registry", False),
        ("track", False),
        ("mlops", True),
        ("mlflow", True),
    ),
    "codegen": (
        ("code", False),
        ("notebook", False),
        ("python", False),
        ("script", False),
        ("jupyter", False),
    ),
    "nlp": (
        ("sentiment", False),
        ("text", False),
        ("topic", False),
        ("quer(?:y|ies)", True),
        ("sql", True),
        (r"natural\s+language", False),
        ("nlp", True),
    ),
    "realtime": (("stream", False), (r"real[\s-]?time", True), ("live", True)),
}

# Korean terms match as substrings (particles and endings attach to them).
_KO_TERMS: dict[Intent, tuple[str, ...]] = {
    "quality": ("품질", "결측", "이상치", "정제", "프로파일", "중복"),
    "eda": ("분석", "통계", "상관", "분포", "탐색", "인사이트", "추세", "패턴"),
    "visualization": ("시각화", "차트", "그래프", "대시보드", "히스토그램"),
    "automl": ("예측", "모델", "학습", "분류", "회귀", "머신러닝", "기계학습"),
    "mlops": ("배포", "모니터링", "드리프트", "레지스트리"),
    "codegen": ("코드", "노트북", "파이썬", "스크립트"),
    "nlp": ("감성", "텍스트", "토픽", "질의", "자연어"),
    "realtime": ("실시간", "스트림", "스트리밍"),
}


def _compile_intent(intent: Intent) -> re.Pattern[str]:
    parts = []
    for fragment, whole in _EN_TERMS[intent]:
        tail = r"(?![a-z0-9])" if whole else r"[a-z0-9]*"
        parts.append(rf"(?<![a-z0-9]){fragment}{tail}")
    parts.extend(re.escape(term) for term in _KO_TERMS[intent])
    return re.compile("|".join(parts), re.IGNORECASE)


_INTENT_PATTERNS: dict[Intent, re.Pattern[str]] = {intent: _compile_intent(intent) for intent in INTENT_ORDER}
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")

# --- target column detection (conservative: a wrong target is worse than none) -------------

_QUOTED = r"""(?:"(?P<dq>[^"\n]{1,64})"|'(?P<sq>[^'\n]{1,64})'|`(?P<bq>[^`\n]{1,64})`)"""
_WORD = r"(?<![A-Za-z0-9_])(?P<word>[A-Za-z_][A-Za-z0-9_]{0,63})"
_NAME = rf"(?:{_QUOTED}|{_WORD})"
_EN_EXPLICIT = re.compile(
    r"(?<![a-z0-9])target"
    r"(?:\s+(?:column|variable|col|field)\s*(?:[:=]|\s+is\s+)?|\s*[:=]|\s+is\s+|\s+(?=[\"'`]))"
    rf"\s*{_NAME}",
    re.IGNORECASE,
)
_EN_AS_TARGET = re.compile(rf"{_NAME}\s+as\s+(?:the\s+)?target(?![a-z0-9])", re.IGNORECASE)
# "predict price" / "forecasting the demand for ..." — an unquoted name must be a single word
# ending the clause or followed by a preposition, so "predict customer churn" (two nouns) stays
# undecided; a quoted name is always taken as written.
_FOLLOW = (
    r"(?=\s*(?:$|[.,;:!?)])|\s+(?:for|from|using|with|based|by|of|in|on|given|and|at|per|over|across|"
    r"next|into|via|column|variable|field)(?![a-z0-9]))"
)
_EN_PREDICT = re.compile(
    r"(?<![a-z0-9])(?:predict|forecast)(?:s|ing)?\s+(?:the\s+|a\s+|an\s+)?"
    rf"(?:{_QUOTED}|{_WORD}{_FOLLOW})",
    re.IGNORECASE,
)
_KO_ASCII_PREDICT = re.compile(rf"{_NAME}\s*(?:컬럼|칼럼|열|변수)?\s*(?:을|를|의)?\s*예측")
_KO_HANGUL_PREDICT = re.compile(
    r"(?<![가-힣A-Za-z0-9_])(?P<word>[가-힣]{1,20}?)\s*(?:컬럼|칼럼|열|변수)?(?:을|를)\s*예측"
)
_KO_EXPLICIT = re.compile(
    rf"(?:타깃|타겟|목표\s*변수|목표\s*컬럼)\s*(?:컬럼|변수)?\s*(?:은|는|:|=)?\s*{_NAME}"
)
#: Explicit declarations first, then the looser "predict X" forms.
_TARGET_PATTERNS = (
    _EN_EXPLICIT,
    _EN_AS_TARGET,
    _KO_EXPLICIT,
    _EN_PREDICT,
    _KO_ASCII_PREDICT,
    _KO_HANGUL_PREDICT,
)
_TARGET_STOPWORDS = {
    "the",
    "a",
    "an",
    "whether",
    "if",
    "which",
    "what",
    "how",
    "who",
    "when",
    "where",
    "why",
    "future",
    "next",
    "value",
    "values",
    "model",
    "models",
    "using",
    "with",
    "from",
    "for",
    "on",
    "in",
    "it",
    "this",
    "that",
    "these",
    "those",
    "data",
    "dataset",
    "outcome",
    "outcomes",
    "result",
    "results",
    "something",
    "anything",
    "trend",
    "trends",
    "ml",
    "them",
    "its",
    "their",
    "my",
    "our",
    "your",
    "and",
    "or",
    "to",
    "of",
    "by",
    "is",
    "be",
    "will",
    "can",
    "ai",
    "automl",
    "데이터",
    "결과",
    "값",
    "미래",
    "이것",
    "그것",
    "것",
    "수치",
    "모델",
    "향후",
    "다음",
    "추세",
    "결과값",
    "데이터셋",
    "무엇",
    "이",
    "그",
}


def detect_language(text: str) -> Language:
    """``"ko"`` when the request contains Hangul, else ``"en"``."""
    return "ko" if _HANGUL.search(text) else "en"


def detect_intents(text: str) -> dict[Intent, list[str]]:
    """The intents a request names, each with the words that triggered it (in plan order)."""
    found: dict[Intent, list[str]] = {}
    for intent in INTENT_ORDER:
        words = [match.group(0) for match in _INTENT_PATTERNS[intent].finditer(text)]
        if words:
            found[intent] = list(dict.fromkeys(word.lower() if word.isascii() else word for word in words))
    return found


#: A treatment verb ("remove the outliers", "이상치를 제거") plus what it treats.
_TREAT_EN = re.compile(
    r"\b(remov|drop|delet|exclud|filter(?:ing)?\s+out|treat|impute|fill|fix|dedup|get\s+rid)", re.IGNORECASE
)
_TREAT_KO = ("제거", "삭제", "제외", "처리", "대체", "채워", "채우", "없애")
_TREATMENTS: dict[str, tuple[re.Pattern[str], tuple[str, ...]]] = {
    "outliers": (re.compile(r"\b(outlier|anomal|extreme)", re.IGNORECASE), ("이상치", "극단")),
    "duplicates": (re.compile(r"\b(duplicat|dedup)", re.IGNORECASE), ("중복",)),
    "missing": (
        re.compile(r"\b(missing|null|nan|blank|empty|impute)", re.IGNORECASE),
        ("결측", "빈 값", "누락"),
    ),
}


def detect_treatments(text: str) -> list[str]:
    """The data treatments a request asks for ("remove the outliers" -> ``["outliers"]``).

    Only a treatment verb makes a treatment: "find the outliers" asks to *see* them, which the
    quality assessment does without changing the data.
    """
    if not (_TREAT_EN.search(text) or any(word in text for word in _TREAT_KO)):
        return []
    return [
        name
        for name, (english, korean) in _TREATMENTS.items()
        if english.search(text) or any(word in text for word in korean)
    ]


def detect_target(text: str) -> str | None:
    """The target column the request names, or ``None`` when unsure.

    Recognises ``target: X`` / ``target column X`` / ``X as the target``, ``predict X`` and
    ``forecast X`` (X a single word at the end of the clause, or quoted), and in Korean
    ``X 예측`` (X a column-like ASCII name), ``X을/를 예측`` and ``타깃은 X``.
    """
    for pattern in _TARGET_PATTERNS:
        for match in pattern.finditer(text):
            name = _name_of(match)
            if name:
                return name
    return None


def _name_of(match: re.Match[str]) -> str | None:
    groups = match.groupdict()
    quoted = groups.get("dq") or groups.get("sq") or groups.get("bq")
    if quoted:
        quoted = quoted.strip()
        return quoted or None
    word = groups.get("word")
    if not word or word.lower() in _TARGET_STOPWORDS:
        return None
    return word


def plan_request(
    request: str,
    *,
    source: DataSource,
    available_agents: Collection[str] | None = None,
    carried_target: str | None = None,
) -> Plan:
    """Plan a request from its keywords.

    Args:
        request: the user's request, Korean or English (may be empty).
        source: whether the data is a fresh upload (plan ingests it first) or a hub dataset.
        carried_target: the target an earlier turn of the session modelled; a follow-up such as
            "now retrain" keeps it unless the request names another.
        available_agents: the agents that are deployed and healthy. Steps for other agents are
            dropped, steps that need a dropped step's outputs are dropped with them, and the
            remaining steps wait on their nearest kept ancestors instead; the rationale says
            what was dropped and why. ``None`` plans for every agent.

    Raises:
        AgentUnavailableError: no planned step can run with the available agents.
    """
    language = detect_language(request)
    found = detect_intents(request)
    chosen: list[Intent] = [intent for intent in INTENT_ORDER if intent in found]
    added: list[tuple[Intent, str]] = []  # (intent, why) for steps the request did not name
    if not found:
        chosen += ["eda", "visualization"]
        added += [("eda", "vague"), ("visualization", "vague")]
    if "eda" in chosen and "visualization" not in chosen:
        chosen.append("visualization")
        added.append(("visualization", "charts"))
    if "mlops" in chosen and "automl" not in chosen:
        chosen.append("automl")
        added.append(("automl", "mlops"))
    chosen_set = set(chosen)
    target = (detect_target(request) or carried_target) if "automl" in chosen_set else None
    treatments = detect_treatments(request)

    steps = _build_steps(
        source,
        chosen_set,
        target,
        language,
        set(available_agents) if available_agents is not None else None,
        treatments=treatments,
    )
    rationale = _rationale(language, found, added, source)
    if treatments:
        listed = ", ".join(treatments)
        rationale += (
            f" 요청에 따라 {listed} 처리 후 정제된 데이터셋으로 이후 단계를 진행합니다."
            if language == "ko"
            else f" The request asks to treat {listed}: a clean step stores a cleaned dataset that the later steps use."
        )
    if target and target == carried_target and detect_target(request) is None:
        rationale += (
            f" 타깃 '{target}'은(는) 이전 대화에서 이어받았습니다."
            if language == "ko"
            else f" The target '{target}' is carried over from the session's earlier turn."
        )
    if available_agents is not None:
        steps, dropped_note = _drop_unavailable(steps, set(available_agents), language)
        if dropped_note:
            rationale = f"{rationale} {dropped_note}"
    return Plan(
        request=request,
        language=language,
        planner="heuristic",
        steps=steps,
        rationale=rationale,
        target_column=target,
    )


def _build_steps(
    source: DataSource,
    chosen: set[Intent],
    target: str | None,
    language: Language,
    available: set[str] | None = None,
    *,
    treatments: list[str] | None = None,
) -> list[PlanStep]:
    steps: list[PlanStep] = []
    dataset: StepInput
    base: list[str]  # the steps every dataset reader must list (a StepOutputRef needs its step there)
    if source.kind == "upload":
        steps.append(
            _step(
                "ingest",
                language,
                {
                    "source_uri": ExecutionRef(path="$.upload.source_uri"),
                    "filename": ExecutionRef(path="$.upload.filename"),
                    "upload_id": ExecutionRef(path="$.upload.upload_id"),
                },
                [],
            )
        )
        dataset = StepOutputRef(step="ingest", output="dataset_id")
        base = ["ingest"]
    else:
        dataset = ExecutionRef(path="$.dataset_id")
        base = []

    def add(step_id: str, depends_on: list[str], extra: dict[str, StepInput] | None = None) -> None:
        inputs: dict[str, StepInput] = {"dataset_id": dataset, **(extra or {})}
        steps.append(_step(step_id, language, inputs, list(dict.fromkeys([*depends_on, *base]))))

    def runs(intent: Intent) -> bool:
        # Optional inputs (another step's report) are wired only from steps that will run.
        planned = intent == "quality" or intent in chosen
        return planned and (available is None or intent in available)

    add("quality", [])
    if treatments:
        # Later steps read the cleaned dataset, so they wait for the treatment, not the upload.
        add("clean", ["quality"], {"actions": ",".join(treatments)})
        dataset = StepOutputRef(step="clean", output="dataset_id")
        base = [*base, "clean"]
    target_input: dict[str, StepInput] = {"target": target} if target else {}
    if "eda" in chosen:
        # The exploration reads only the dataset: it runs beside the quality profile (one
        # Parallel state), so the model search after them has the machine to itself.
        add("eda", [], target_input)
    if "automl" in chosen:
        add("automl", ["quality"], target_input or None)
        if target:
            suffix = f" (target: {target})" if language == "en" else f" (타깃: {target})"
            steps[-1] = steps[-1].model_copy(update={"description": steps[-1].description + suffix})
    if "visualization" in chosen:
        # Charts come last among the analyses: they draw the findings, the model's feature
        # importance and the quality report's missing values, so they wait for those reports.
        extra: dict[str, StepInput] = {}
        after: list[str] = []
        if runs("quality"):
            extra["quality_report_id"] = StepOutputRef(step="quality", output="report_id")
            after.append("quality")
        if runs("eda"):
            extra["eda_report_id"] = StepOutputRef(step="eda", output="report_id")
            after.append("eda")
        if runs("automl"):
            extra["model_report_id"] = StepOutputRef(step="automl", output="report_id")
            after.append("automl")
            if not target:
                extra["target"] = StepOutputRef(step="automl", output="target")
        if target:
            extra["target"] = target
        add("visualization", after, extra)
    if "mlops" in chosen:
        add("mlops", ["automl"], {"model_id": StepOutputRef(step="automl", output="model_id")})
    if "nlp" in chosen:
        add("nlp", ["quality"])
    if "realtime" in chosen:
        add("realtime", ["ingest" if source.kind == "upload" else "quality"])
    if "codegen" in chosen:
        add("codegen", [step.id for step in steps if step.id != "ingest"])
    return steps


def _step(step_id: str, language: Language, inputs: dict[str, StepInput], depends_on: list[str]) -> PlanStep:
    spec = _STEPS[step_id]
    return PlanStep.model_validate(
        {
            "id": step_id,
            "agent": spec.agent,
            "skill": spec.skill,
            "description": spec.ko if language == "ko" else spec.en,
            "inputs": inputs,
            "depends_on": depends_on,
        }
    )


_WHY_ADDED = {
    "vague": {
        "en": "no specific analysis was named, so a general exploration with charts is planned",
        "ko": "구체적인 분석 요청이 없어 기본 탐색 분석과 시각화를 계획했습니다",
    },
    "charts": {
        "en": "visualization presents the exploration's findings as charts",
        "ko": "탐색 결과를 차트로 보여주기 위해 시각화를 추가했습니다",
    },
    "mlops": {
        "en": "model tracking needs a trained model, so automl was added",
        "ko": "모델 추적에는 학습된 모델이 필요하여 automl을 추가했습니다",
    },
}


def _rationale(
    language: Language, found: dict[Intent, list[str]], added: list[tuple[Intent, str]], source: DataSource
) -> str:
    named = list(found.items())
    if language == "ko":
        first = "업로드된 파일을 적재한 뒤 " if source.kind == "upload" else ""
        first += "모든 분석에 품질 프로파일링이 포함되고 탐색 분석은 그와 나란히 실행됩니다"
        if named:
            mapping = ", ".join(f"{'/'.join(repr(w) for w in words)} → {intent}" for intent, words in named)
            first += f"; 키워드 {mapping}."
        else:
            first += "."
        notes = [_WHY_ADDED[why]["ko"] for _, why in added]
    else:
        first = (
            "After ingesting the upload, every" if source.kind == "upload" else "Every"
        ) + " analysis profiles data quality, with the exploration running beside it"
        if named:
            mapping = ", ".join(f"{'/'.join(repr(w) for w in words)} → {intent}" for intent, words in named)
            first += f"; keywords {mapping}."
        else:
            first += "."
        notes = [_WHY_ADDED[why]["en"] for _, why in added]
    unique_notes = list(dict.fromkeys(notes))
    if not unique_notes:
        return first
    second = "; ".join(unique_notes)
    return f"{first} {second[0].upper()}{second[1:]}."


def _drop_unavailable(
    steps: list[PlanStep], available: set[str], language: Language
) -> tuple[list[PlanStep], str]:
    """Remove steps whose agent is not available and re-point their dependents.

    A step that reads a dropped step's *outputs* cannot run either (its input would not exist),
    so it is dropped too; a step that merely waited on a dropped step now waits on that step's
    nearest kept ancestors, which preserves the ordering guarantees that still matter.
    """
    by_id = {step.id: step for step in steps}
    reasons: dict[str, str] = {}
    for step in steps:  # declaration order: references always point backwards
        if step.agent not in available:
            reasons[step.id] = (
                f"agent '{step.agent}' is not available"
                if language == "en"
                else f"'{step.agent}' 에이전트를 사용할 수 없음"
            )
            continue
        needed = next((ref for ref in step.output_refs() if ref.step in reasons), None)
        if needed is not None:
            reasons[step.id] = (
                f"needs '{needed.output}' from dropped step '{needed.step}'"
                if language == "en"
                else f"제외된 '{needed.step}' 단계의 '{needed.output}' 출력이 필요함"
            )
    if not reasons:
        return steps, ""

    def kept_ancestors(step_id: str) -> list[str]:
        if step_id not in reasons:
            return [step_id]
        return [kept for dep in by_id[step_id].depends_on for kept in kept_ancestors(dep)]

    kept: list[PlanStep] = []
    for step in steps:
        if step.id in reasons:
            continue
        depends_on = list(dict.fromkeys(kept for dep in step.depends_on for kept in kept_ancestors(dep)))
        kept.append(step.model_copy(update={"depends_on": depends_on}))
    listing = "; ".join(f"{step_id} ({why})" for step_id, why in reasons.items())
    if not kept:
        raise AgentUnavailableError(
            "None of the planned analysis steps can run: the agents they need are not available"
        )
    if language == "ko":
        return kept, f"사용할 수 없어 제외된 단계: {listing}."
    return kept, f"Dropped steps: {listing}."
