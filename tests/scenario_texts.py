"""Small scenario files shared by the tests of the command line, sweeps and
output folders."""

# A run of a few hundred subcomponents: a second or so.
SMALL = """\
name: small
seed: 5
replicates: 3
horizon: 40
record_every: 10
agent: {capacity: 400, initial_size: 200}
copy: {error_rate: 0.01}
"""


# A sweep slow enough to be interrupted (one unit per replicate, ~1 s each).
SLOW_SWEEP = """\
name: slow
seed: 11
replicates: 2
horizon: 1500
record_every: 100
agent: {capacity: 20000, initial_size: 10000, birth_rate: 0.2, death_rate: 0.1}
copy: {error_rate: 0.001}
sweep:
  grid:
    immune.efficacy: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
"""


# A sweep of 3 points x 2 replicates of a few hundred subcomponents: seconds.
SWEEP = """\
name: sw
seed: 3
replicates: 2
horizon: 30
record_every: 10
agent: {capacity: 400, initial_size: 200}
sweep:
  grid:
    immune.efficacy: [0.3, 0.6, 0.9]
"""
