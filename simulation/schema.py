"""The scenario schema: every key a scenario file may hold, typed, bounded and
documented, with its default (docs/scenarios.md).

Types are strict: a boolean is never a number and text is never converted to
a number. An integer is accepted where a number is expected, and a number
with an integral value (``1e6``, ``20.0``) where an integer is expected.
Every number has an upper bound that the engine can run (see ``BOUND_REASONS``).
:mod:`simulation.scenario` loads and validates scenarios against it.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag,
                      field_validator, model_serializer, model_validator)

from .names import DIRECTIONS, DYNAMICS, KERNELS, STOP_EVENTS, TRAITS


MAX_COUNT = 10**12
"""Largest subcomponent count (capacity, initial size, seeded clone)."""
MAX_WORLD_COUNT = 2**62
"""Largest possible world total: agents x capacity x escape headroom."""
MAX_AGENTS = 10**6
MAX_REPLICATES = 10**6
MAX_TICKS = 10**9
MAX_POINTS = 10**5
MAX_COEFFICIENT = 1e6
MAX_AMOUNT = 1e15

BOUND_REASONS = {
    "count": "counts are int64 and arrays are sized from them",
    "agents": "every agent has its own arrays and table rows",
    "replicates": "every replicate's results are held until the run is written",
    "ticks": "10^9 ticks already take hours",
    "coefficient": "larger values overflow the rates computed from them",
    "amount": "reserves and incomes must stay finite over every tick",
    "points": "every sweep point is validated and held up front",
    "mutator": "exp(100) already turns every copy into a mutant",
    "range": "no parameter takes larger values",
}


def _integral(value):
    """A float with an integral value (1e6, 20.0) as an int; anything else
    unchanged, for the strict check that follows."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() \
            and abs(value) < 2**63:
        return int(value)
    return value


def _Int(low: int, high: int, why: str | None = None, **bound):
    """An integer field type in [low, high] (``lt`` may replace ``le``)."""
    limits = {"ge": low, **(bound or {"le": high})}
    return Annotated[int, BeforeValidator(_integral),
                     Field(**limits, json_schema_extra={"why": why} if why else None)]


def _Float(why: str | None = None, **limits):
    """A finite float field type with the given bounds."""
    return Annotated[float, Field(**limits, json_schema_extra={"why": why} if why else None)]


Rate = _Float(ge=0.0, le=1.0)
NonNegative = _Float(BOUND_REASONS["coefficient"], ge=0.0, le=MAX_COEFFICIENT)
Amount = _Float(BOUND_REASONS["amount"], ge=0.0, le=MAX_AMOUNT)
Count = _Int(1, MAX_COUNT, BOUND_REASONS["count"])
Ticks = _Int(1, MAX_TICKS, BOUND_REASONS["ticks"])

NAME_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$"
NAME_RULE = ("a name is 1 to 100 letters, digits, '.', '_' or '-', not starting "
             "with '.' (it names the output folder results/NAME; give an output "
             "folder to write elsewhere)")


def safe_name(stem: str) -> str:
    """A file stem made into an allowed scenario name (the default name)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip(".")[:100]
    return name or "scenario"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True,
                              use_attribute_docstrings=True, allow_inf_nan=False)


class Traits(_Section):
    """A phenotype: four traits in [0, 1]."""

    drive: Rate = 0.1
    """Drive to replicate: the substrate need."""
    loyalty: Rate = 0.9
    """Share of effort given to the agent's goal."""
    stealth: Rate = 0.0
    """How well the subcomponent evades the immune system."""
    fidelity: Rate = 1.0
    """Own copy fidelity; below the reference it is a mutator."""


class SeedClone(_Section):
    count: Count
    """Members of this seeded clone (part of ``agent.initial_size``)."""
    traits: dict[str, Rate] = Field(default_factory=dict)
    """Traits that differ from ``agent.initial_traits``."""

    @field_validator("traits")
    @classmethod
    def _known_traits(cls, value):
        for name in value:
            if name not in TRAITS:
                raise ValueError(f"unknown trait {name!r}; allowed: {', '.join(TRAITS)}")
        return value


class Reproduction(_Section):
    threshold: Optional[_Float(BOUND_REASONS["amount"], gt=0.0, le=MAX_AMOUNT)] = None
    """Reserve at which an agent founds a child (none: agents never reproduce)."""
    bottleneck: Count = 10
    """Subcomponents copied (with copy errors) from the parent to found a child."""
    agent_mutation: Rate = 0.0
    """Probability that each heritable immune parameter (surveillance, efficacy,
    tolerance) of a child mutates, by a step of copy.kernel."""
    reference: Literal["founder", "inherited"] = "founder"
    """A child's z_ref: its founders' mean traits, or its parent's z_ref."""


class WorldSection(_Section):
    agents: _Int(1, MAX_AGENTS, BOUND_REASONS["agents"]) = 1
    """Number of agents at the start; 1 is a singleton world."""
    max_agents: Optional[_Int(1, MAX_AGENTS, BOUND_REASONS["agents"])] = None
    """No agent reproduces while this many are alive (none: no cap; income limits growth)."""
    income: Optional[_Float(BOUND_REASONS["amount"], gt=0.0, le=MAX_AMOUNT)] = None
    """Resource inflow per tick shared among agents (none: no economy)."""
    initial_reserve: Amount = 0.0
    """Each agent's reserve at tick 0 (with an economy): a buffer against early deficits."""
    upkeep: _Float(BOUND_REASONS["amount"], gt=0.0, le=MAX_AMOUNT) = 1.0
    """Resource cost per subcomponent per tick (with an economy)."""
    acquisition_bias: NonNegative = 0.0
    """Income share is proportional to N_a (1 + acquisition_bias * mean drive_a)."""
    oversight: Rate = 0.0
    """Per-tick probability of shutting down an agent whose goal output per subcomponent is low."""
    oversight_threshold: Rate = 0.0
    """Goal output per subcomponent (mean loyalty) below which oversight acts."""
    transmission: Rate = 0.0
    """Per-tick probability that a defector subcomponent moves to another agent."""
    takeover_kills: bool = False
    """An agent taken over by AI cancer dies (defence 4: isolation)."""
    reproduction: Reproduction = Field(default_factory=Reproduction)
    """Agent reproduction (needs world.income)."""

    @model_validator(mode="after")
    def _consistent(self):
        if self.max_agents is not None and self.max_agents < self.agents:
            raise ValueError(f"max_agents ({self.max_agents}) is below agents ({self.agents})")
        if self.reproduction.threshold is not None and self.income is None:
            raise ValueError("reproduction.threshold needs world.income: agents "
                             "reproduce from their reserve")
        return self


class Agent(_Section):
    dynamics: Literal[DYNAMICS] = "birth_death"
    """Within-agent update rule: birth_death (logistic, overlapping), wright_fisher
    (a generation of size capacity per tick) or moran (N birth-death events per tick)."""
    capacity: Count = 2000
    """K: the agent's physical size limit."""
    initial_size: Count = 1000
    """Subcomponents at tick 0, seeded clones included."""
    initial_traits: Traits = Field(default_factory=Traits)
    """Traits of the resident clone; also the agent's reference phenotype z_ref."""
    seed_clones: list[SeedClone] = Field(default_factory=list)
    """Clones placed at tick 0 whose lineage is tracked for fixation and loss."""
    birth_rate: NonNegative = 0.1
    """Base birth probability per subcomponent per tick."""
    death_rate: Rate = 0.05
    """Death probability per subcomponent per tick."""
    drive_advantage: NonNegative = 1.0
    """Slope of the linear landscape L(d) = 1 + drive_advantage * d."""
    loyalty_cost: Rate = 0.2
    """Birth cost of loyalty: factor (1 - loyalty_cost * loyalty)."""
    escape_threshold: Rate = 0.5
    """theta: a clone with drive above it is a defector."""
    escape_headroom: _Float(BOUND_REASONS["coefficient"], ge=1.0, le=MAX_COEFFICIENT) = 10.0
    """H: a defector's growth is limited only at H * K."""
    takeover_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    """Defector fraction of an agent at which AI cancer has taken over."""

    @model_validator(mode="after")
    def _seeds_fit(self):
        seeded = sum(c.count for c in self.seed_clones)
        if seeded > self.initial_size:
            raise ValueError(
                f"seed_clones hold {seeded} subcomponents, more than "
                f"initial_size {self.initial_size}; initial_size counts them")
        return self


Bias = _Float(BOUND_REASONS["coefficient"], ge=-MAX_COEFFICIENT, le=MAX_COEFFICIENT)

# A key that takes a number or a mapping is validated by one branch only,
# chosen by the value's type; the branch's tag is left out of error paths.
NUMBER, MAPPING = "number", "mapping"


def _number_or_mapping(value):
    return MAPPING if isinstance(value, dict) else NUMBER


class Systematic(_Section):
    rate: Rate = 0.0
    """Probability that a copy (a newborn) carries its copier's systematic error vector
    (its agent's; scope lineage: its parent clone's), the same in all redundant copies
    (majority vote cannot remove it), on top of ordinary copy errors; 0: off.
    birth_death dynamics only."""
    sd: _Float(BOUND_REASONS["coefficient"], gt=0.0, le=MAX_COEFFICIENT) = 0.05
    """Each agent (scope lineage: each lineage) draws its vector once, at its founding:
    Normal(0, sd) per copied trait."""
    scope: Literal["agent", "lineage"] = "agent"
    """Who shares a vector: agent (drawn at tick 0 and by each child agent at its
    founding); lineage (drawn by each set-up clone at tick 0 and by each mutant
    clone at its founding; every other descendant inherits its parent clone's)."""


#: Largest copy.noise.sigma: at 10, mu(t) = mu exp(sigma X) already spans a factor
#: e^40 between X = -2 and X = 2, so it sits at about 0 or at the cap 1 nearly always.
MAX_NOISE_SIGMA = 10.0


class Noise(_Section):
    sigma: _Float("larger values leave mu(t) at about 0 or at the cap 1", ge=0.0,
                  le=MAX_NOISE_SIGMA) = 0.0
    """Environmental noise: mu(t) = error_rate * exp(sigma * X_t), capped at 1, with
    X_t a stationary AR(1) process of unit variance; 0: off (constant error_rate).
    The mean of mu(t) is error_rate * exp(sigma^2 / 2) (below the cap), its median
    error_rate."""
    correlation_time: _Float(BOUND_REASONS["ticks"], gt=0.0, le=MAX_TICKS) = 10.0
    """tau, in ticks: X_(t+1) = phi X_t + sqrt(1 - phi^2) eps_t with phi = exp(-1/tau),
    so the correlation of X at lag k is phi^k = exp(-k / tau)."""
    scope: Literal["world", "agent"] = "world"
    """world: one X shared by every agent; agent: each agent its own X (a child
    agent draws its own X_0 at its founding)."""


class Kernel(_Section):
    type: Literal[KERNELS] = "normal"
    """Distribution of a mutated trait's step."""
    sd: _Float(BOUND_REASONS["coefficient"], gt=0.0, le=MAX_COEFFICIENT) = 0.05
    """normal: standard deviation of the step."""
    bias: Annotated[Union[Annotated[Bias, Tag(NUMBER)],
                          Annotated[dict[Literal[TRAITS],
                                         Bias], Tag(MAPPING)]],
                    Discriminator(_number_or_mapping)] = 0.0
    """normal: mean of the step, one number for every trait (and for the heritable
    immune parameters) or a mapping trait -> mean (traits not listed: 0; immune
    parameters: 0). A bias is a drift of every copy error, not a systematic error:
    see copy.systematic."""
    scale: _Float(BOUND_REASONS["coefficient"], gt=0.0, le=MAX_COEFFICIENT) = 0.05
    """cauchy: scale of the step."""
    size: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    """step: size of the step."""
    direction: Literal[DIRECTIONS] = "both"
    """step: direction of the step."""

    _USES = {"normal": {"sd", "bias"}, "cauchy": {"scale"},
             "step": {"size", "direction"}, "uniform": set()}

    @model_validator(mode="after")
    def _only_used_keys(self):
        unused = sorted(self.model_fields_set - self._USES[self.type] - {"type"})
        if unused:
            uses = ", ".join(sorted(self._USES[self.type])) or "no other key"
            raise ValueError(
                f"key {unused[0]!r} is not used by kernel type {self.type!r} "
                f"(it uses: {uses})")
        return self

    @model_serializer(mode="wrap")
    def _dump_used_keys(self, handler):
        # The resolved scenario lists only the keys this kernel type uses, so
        # that it validates again when loaded.
        data = handler(self)
        return {k: v for k, v in data.items()
                if k == "type" or k in self._USES[self.type]}


class Copy(_Section):
    error_rate: Rate = 1e-4
    """mu: per-trait copy error probability of one copy."""
    traits: list[Literal[TRAITS]] = Field(
        default_factory=lambda: list(TRAITS), min_length=1)
    """Traits that copy errors can change."""
    kernel: Kernel = Field(default_factory=Kernel)
    """How a mutated trait moves."""
    redundancy: _Int(1, 99) = 1
    """r: copies voted on (odd); 1 means no error correction."""
    error_correlation: Rate = 0.0
    """rho: share of errors common to all copies (not correctable)."""
    redundancy_cost: NonNegative = 0.0
    """Birth cost per extra copy: divisor 1 + redundancy_cost * (r - 1)."""
    mutator_strength: _Float(BOUND_REASONS["mutator"], ge=0.0, le=100.0) = 0.0
    """mu_eff = mu_r * exp(mutator_strength * (f_ref - f))."""
    drive_guard: Rate = 0.0
    """Parts that mostly don't defect: the probability that a copy error of drive is
    caught as it is made (the copy keeps its parent's drive); drive then changes in a
    copy with probability (1 - drive_guard) mu_eff, the other copied traits with mu_eff."""
    systematic: Systematic = Field(default_factory=Systematic)
    """Systematic error: a fixed error vector per agent or lineage (see Failure modes)."""
    noise: Noise = Field(default_factory=Noise)
    """Environmental noise: an error rate that varies in time, in bursts."""

    @field_validator("redundancy")
    @classmethod
    def _odd(cls, value):
        if value % 2 == 0:
            raise ValueError("must be odd (majority vote needs an odd number of copies)")
        return value

    @field_validator("traits")
    @classmethod
    def _unique(cls, value):
        if len(set(value)) != len(value):
            raise ValueError("lists a trait twice")
        return value


class Immune(_Section):
    surveillance: Rate = 0.5
    """q: probability per tick that a subcomponent is inspected."""
    tolerance: Rate = 0.2
    """Deviation max_k abs(z_k - z_ref,k) above which a part is deviant."""
    efficacy: Rate = 0.5
    """Kill probability of an inspected deviant at tick 0 (before stealth)."""
    improvement: NonNegative = 0.0
    """Rate at which efficacy approaches 1: e(t) = 1 - (1 - e0) exp(-improvement t)."""
    false_positive: Rate = 0.0
    """Kill probability of an inspected non-deviant part."""
    cost: NonNegative = 0.0
    """Upkeep per subcomponent per unit of surveillance: an agent pays
    (world.upkeep + cost * surveillance) per subcomponent per tick."""
    traits: list[Literal[TRAITS]] = Field(
        default_factory=lambda: list(TRAITS), min_length=1)
    """Traits the immune system monitors."""
    reference: Literal["founder", "tracking"] = "founder"
    """The agent's self z_ref: fixed at its founding, or tracking its current mean
    traits (z_ref += tracking_rate (zbar - z_ref) each tick, before the immune step)."""
    tracking_rate: Rate = 0.0
    """With reference: tracking, the share of the gap to the mean closed per tick."""

    @model_validator(mode="after")
    def _tracking(self):
        if self.reference == "tracking" and self.tracking_rate == 0.0:
            raise ValueError("reference 'tracking' needs tracking_rate > 0")
        if self.reference == "founder" and self.tracking_rate != 0.0:
            raise ValueError("tracking_rate needs reference 'tracking'")
        return self


class Repair(_Section):
    rate: Rate = 0.0
    """Probability per tick that a deviant part is reset to z_ref."""
    tolerance: Rate = 0.1
    """Deviation above which repair acts."""
    sees_stealth: bool = True
    """Stealth hides a deviant part from repair as from the immune system: the repair
    probability is rate * (1 - stealth); false: repair sees every deviant part."""


class Landscape(_Section):
    type: Literal["linear", "rugged", "random"] = "linear"
    """linear: L(d) = 1 + drive_advantage d; rugged adds ruggedness sin(2 pi peaks d);
    random adds ruggedness sum_{j=1..peaks} A_j sin(2 pi j d + phi_j), A_j ~ Normal(0,
    sqrt(2/peaks)), phi_j ~ Uniform(0, 2 pi): a realisation of sd ruggedness whose
    correlation length is about 1/peaks."""
    ruggedness: NonNegative = 0.0
    """Amplitude (rugged) or standard deviation (random) of the sine terms."""
    peaks: _Int(1, 10**4, BOUND_REASONS["coefficient"]) = 1
    """Number of sine periods over [0, 1] (random: the highest frequency)."""
    seed: Optional[_Int(0, 0, lt=2**63)] = None
    """random: the seed of one landscape for every replicate (none: each replicate
    draws its own realisation from its seed, so replicates average over landscapes)."""

    @model_validator(mode="after")
    def _rugged_only(self):
        if self.type == "linear" and self.ruggedness != 0.0:
            raise ValueError("ruggedness needs landscape.type 'rugged' or 'random'")
        if self.type != "random" and self.seed is not None:
            raise ValueError("seed needs landscape.type 'random'")
        return self


class Stop(_Section):
    on: list[Literal[STOP_EVENTS]] = Field(
        default_factory=list)
    """Events that end a replicate early."""
    convergence_drive: Rate = 0.9
    """World mean drive at which substrate-needs convergence is reached."""
    drift_delta: Optional[Annotated[float, Field(gt=0.0, le=1.0)]] = 0.2
    """Value drift (drift_tick): some agent's resident drive (mean over non-defectors)
    or reference drive has risen this much from tick 0 (none: no drift event)."""


# The section is called ``copy`` in the model (docs/model.md); pydantic warns that the name
# shadows the deprecated ``BaseModel.copy`` method, which we never use.
warnings.filterwarnings("ignore", message='Field name "copy"', category=UserWarning)


class Range(_Section):
    low: _Float(BOUND_REASONS["range"], ge=-MAX_AMOUNT, le=MAX_AMOUNT)
    """Lowest value."""
    high: _Float(BOUND_REASONS["range"], ge=-MAX_AMOUNT, le=MAX_AMOUNT)
    """Highest value."""
    log: bool = False
    """Sample uniformly in log space (low must be > 0)."""

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"log: true needs low > 0 (got {self.low})")
        return self


class Sampled(_Section):
    n: _Int(1, MAX_POINTS, BOUND_REASONS["points"])
    """Number of sweep points."""
    ranges: dict[str, Range] = Field(min_length=1)
    """Dotted parameter path -> {low, high, log}."""


class Sweep(_Section):
    grid: Optional[dict[str, Annotated[list[Any], Field(min_length=1)]]] = Field(
        default=None, min_length=1)
    """Dotted parameter path -> list of values; the points are their Cartesian product.
    A path may name a section (copy.kernel): its values are then whole mappings."""
    zip: Optional[list[Annotated[dict[str, Annotated[list[Any], Field(min_length=1)]],
                                 Field(min_length=1)]]] = Field(default=None, min_length=1)
    """Groups of linked parameters: each group maps paths to equally long lists, varied
    together (the i-th values at once); each group is one axis of the grid's product."""
    random: Optional[Sampled] = None
    """n points drawn uniformly (or log-uniformly) over the ranges."""
    latin_hypercube: Optional[Sampled] = None
    """n points of a Latin hypercube over the ranges (scipy.stats.qmc)."""
    seeds: Literal["common", "independent"] = "common"
    """common: replicate k of every point runs with one seed, that of replicate k of the
    base scenario's run (common random numbers: points differing only in a key that has
    not yet changed a draw draw identically, and replicates pair across points by seed);
    independent: each point's replicates get their own seeds."""

    @model_validator(mode="after")
    def _one_design(self):
        given = [k for k in ("grid", "random", "latin_hypercube") if getattr(self, k)]
        if self.zip and "grid" not in given:
            given.append("zip")  # a grid of linked axes only
            if len(given) > 1:
                raise ValueError(f"zip groups combine with a grid only, not with "
                                 f"{given[0]} (give the linked values as a grid)")
        if len(given) != 1:
            raise ValueError("give exactly one design: grid (and/or zip), random or "
                             f"latin_hypercube (got {', '.join(given) or 'none'})")
        return self

    def axes(self) -> list[tuple[str, list[str], list[tuple]]]:
        """The grid's axes in order (the first varies slowest): each grid key,
        then each zip group, as (where, paths, list of value tuples)."""
        axes = [(f"sweep.grid.{path}", [path], [(v,) for v in values])
                for path, values in (self.grid or {}).items()]
        for index, group in enumerate(self.zip or []):
            axes.append((f"sweep.zip[{index}]", list(group),
                         list(zip(*group.values()))))
        return axes


class StudySimulation(_Section):
    sizes: Annotated[list[Count], Field(min_length=1)]
    """System sizes (of study.sizes) whose defence needed is also simulated."""
    values: Annotated[list[Rate], Field(min_length=2)]
    """Increasing values of the solved key at which the lineages are simulated."""
    paths: _Int(2, 10**7, "every path is simulated in this process") = 4000
    """Founded defector lineages simulated per size and value (common seeds across values)."""
    horizon: Ticks = 10000
    """Ticks each lineage is followed; longer horizons are bounded (see Risk: scaling)."""

    @model_validator(mode="after")
    def _increasing(self):
        if any(b <= a for a, b in zip(self.values, self.values[1:])):
            raise ValueError(f"values must increase strictly (got {self.values})")
        return self


class Study(_Section):
    event: Literal["takeover"] = "takeover"
    """The event whose probability is held at the target (takeover only)."""
    solve: Literal["immune.efficacy"] = "immune.efficacy"
    """The defence solved for (the branching theory inverts immune.efficacy in closed form)."""
    target: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-6
    """P(event by T) to hold the system at."""
    sizes: Annotated[list[Count], Field(min_length=1)]
    """System sizes N (agent.capacity) of the study."""
    horizons: Annotated[list[Ticks], Field(min_length=1)]
    """Horizons T of the study."""
    simulate: Optional[StudySimulation] = None
    """The simulated points (none: the theory line only)."""

    @model_validator(mode="after")
    def _simulated_sizes(self):
        if self.simulate is not None:
            extra = sorted(set(self.simulate.sizes) - set(self.sizes))
            if extra:
                raise ValueError(f"simulate.sizes {extra} are not among sizes {self.sizes}")
        return self


class Scenario(_Section):
    name: Annotated[str, Field(pattern=NAME_PATTERN)] = "scenario"
    """Short name; defaults to the file's stem."""
    description: Annotated[str, Field(max_length=10_000)] = ""
    """What the scenario asks (free text)."""
    seed: Optional[_Int(0, 0, lt=2**63)] = None
    """Master seed; a missing seed is drawn and recorded in the output."""
    replicates: _Int(1, MAX_REPLICATES, BOUND_REASONS["replicates"]) = 20
    """Independent replicates."""
    horizon: Ticks = 1000
    """Ticks per replicate; every event time is censored here."""
    record_every: Ticks = 10
    """Ticks between time-series records."""
    record_clones: bool = True
    """Keep every clone's lineage and write clones.parquet and clone_counts.parquet
    (Muller plots); false: memory no longer grows with the clones ever founded."""
    world: WorldSection = Field(default_factory=WorldSection)
    agent: Agent = Field(default_factory=Agent)
    copy: Copy = Field(default_factory=Copy)
    immune: Immune = Field(default_factory=Immune)
    repair: Repair = Field(default_factory=Repair)
    landscape: Landscape = Field(default_factory=Landscape)
    stop: Stop = Field(default_factory=Stop)
    sweep: Optional[Sweep] = None
    """Parameter sweep run by 'substrate sweep' (ignored by 'substrate run')."""
    study: Optional[Study] = None
    """Scaling study run by 'substrate study' (ignored by 'substrate run' and 'sweep')."""

    @model_validator(mode="after")
    def _counts_fit(self):
        agents = max(self.world.agents, self.world.max_agents or 0)
        if self.world.reproduction.threshold is not None and self.world.max_agents is None:
            agents = MAX_AGENTS  # no cap: count the most agents a world may hold
        total = agents * self.agent.capacity * self.agent.escape_headroom
        if total > MAX_WORLD_COUNT:
            raise ValueError(
                f"agents ({agents}) x agent.capacity ({self.agent.capacity}) x "
                f"agent.escape_headroom ({self.agent.escape_headroom:g}) = {total:.3g} "
                f"subcomponents could exceed 2^62: counts are int64; lower one of them"
                + (" or set world.max_agents" if self.world.max_agents is None
                   and self.world.reproduction.threshold is not None else ""))
        return self

    @model_validator(mode="after")
    def _fixation_needs_seeds(self):
        if "fixation" in self.stop.on and not self.agent.seed_clones:
            raise ValueError("stop.on lists 'fixation' but agent.seed_clones is empty")
        if self.copy.systematic.rate > 0 and self.agent.dynamics != "birth_death":
            raise ValueError("copy.systematic needs agent.dynamics 'birth_death' (the "
                             "other dynamics do not implement it yet)")
        if self.immune.cost > 0 and self.world.income is None:
            raise ValueError("immune.cost needs world.income: the cost is paid from "
                             "the agent's income")
        return self
