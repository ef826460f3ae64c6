"""Defer py-evm's BLS12-381 precompiles (Prague, 0x0b-0x11) until one is called.

Importing them imports py_ecc's BLS12-381 pairing, which builds a table of Fp12 powers at import
time: ~0.3 s, a third of the embedded chain's start-up, for precompiles our contracts never call.
`install()` registers `eth.precompiles.bls12_381` as a package whose seven precompile functions
import the real submodule on first call; the package path is the real one, so any direct import
of its submodules works as before. It changes nothing once py-evm is already imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any, Callable

_PACKAGE = "eth.precompiles.bls12_381"
_FUNCTIONS = {
    "bls12_g1_add": "bls12_381_g1",
    "bls12_g1_msm": "bls12_381_g1",
    "bls12_map_fp_to_g1": "bls12_381_g1",
    "bls12_g2_add": "bls12_381_g2",
    "bls12_g2_msm": "bls12_381_g2",
    "bls12_map_fp2_to_g2": "bls12_381_g2",
    "bls12_pairing_check": "bls12_381_pairing",
}


def _lazy(name: str, submodule: str) -> Callable[..., Any]:
    def precompile(*args: Any, **kwargs: Any) -> Any:
        real = getattr(importlib.import_module(f"{_PACKAGE}.{submodule}"), name)
        return real(*args, **kwargs)

    precompile.__name__ = precompile.__qualname__ = name
    return precompile


def install() -> bool:
    """Register the lazy package before py-evm is imported; True if it was installed."""
    if "eth.precompiles" in sys.modules or _PACKAGE in sys.modules:
        return False
    spec = importlib.util.find_spec("eth")
    if spec is None or not spec.submodule_search_locations:
        return False
    import os

    path = os.path.join(list(spec.submodule_search_locations)[0], "precompiles", "bls12_381")
    if not os.path.isfile(os.path.join(path, "__init__.py")):
        return False  # a py-evm laid out differently: import it normally
    module = types.ModuleType(_PACKAGE, __doc__)
    module.__path__ = [path]
    module.__file__ = os.path.join(path, "__init__.py")
    module.__package__ = _PACKAGE
    for name, submodule in _FUNCTIONS.items():
        setattr(module, name, _lazy(name, submodule))
    sys.modules[_PACKAGE] = module
    return True
