"""The rules of the model, one module per mechanism, in the order the weekly pass applies them.

Each module declares, beside its mechanism:

- ``PARAMS``: its parameters (``sim.declare.Param``), gathered into ``sim.params.PARAMS``;
- ``DRAWS``: the names of the random draws it takes (indices in ``draws.DRAWS``);
- ``READS`` / ``WRITES``: the per-customer state fields (``sim.state.FIELDS``) it reads and
  writes (as arguments and returned values of its function; a test checks them);

and one small compiled function (``@nb.njit(inline="always")``) on one customer's scalars,
which the fused weekly pass (``sim.rules._customers``) calls in the order of ``MECHANISMS``,
so that the week is still one pass over memory. The same functions in pure Python
(``.py_func``) run the object-per-customer baseline (``benchmarks/baseline_objects.py``).
"""

from . import (aging, attention, budget, contact, defection, fatigue, lifecycle, purchase, reciprocity, rival, sale,
               service, turnover, value, visits, word_of_mouth)

# The order of the weekly pass (budget runs first, over all customers; word of mouth's
# listeners in a second pass after everyone has spoken).
MECHANISMS = (budget, turnover, aging, rival, contact, fatigue, attention, value, reciprocity, visits, purchase, sale, service,
              defection, lifecycle, word_of_mouth)
