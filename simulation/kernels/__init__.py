"""numba kernels: tables of :mod:`simulation.state` and a
``numpy.random.Generator`` in, nothing validated (the engine has done that).

- :mod:`.binomial`: NumPy's binomial draws, draw for draw, from remembered tables;
- :mod:`.prefetch`: a cache hint for the agent rows a clone's draws read;
- :mod:`.clones`: shared draws, copy errors, founding, growth, reduction;
- :mod:`.birth_death`: the default within-agent tick;
- :mod:`.generations`: ``wright_fisher`` and ``moran``;
- :mod:`.types`: types and mutation graphs (changes of type, type events, records);
- :mod:`.world`: economy, transmission, agent fates and reproduction;
- :mod:`.driver`: the compiled replicate loop, outcomes and records.
"""
