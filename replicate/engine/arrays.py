"""The engine's array types, named once for the type checker.

The engine works in float64 throughout (cross-products, factors, theta); index
arrays are ``intp`` and masks ``bool``. The names say which an argument is.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

Floats: TypeAlias = npt.NDArray[np.float64]
Ints: TypeAlias = npt.NDArray[np.intp]
Bools: TypeAlias = npt.NDArray[np.bool_]
