"""The three settings of the ``torch.__future__`` conversion flags that conversion and move
properties run under, and a context manager that sets one and always restores both flags.

A step that converts or moves runs under its setting *and shows it*: :func:`flagged` puts the
setting's flag lines in front of the step text, so the reproducer sets the flags where the test
set them (Note [one source per call] in ``conformance.handle``); :func:`run_under` runs such a
step with the flags set around it and restored afterwards::

    run_under(h, "swap", "out = root.double()")
    with conversion_setting(setting):
        expect_raises(h, flagged(setting, "root.double()"), RuntimeError)
"""
import contextlib
import copyreg

import torch

FUTURE = torch.__future__
# torch.utils.swap_tensors (the swap setting) reads copyreg._slotnames(type(t)), which caches
# ``__slotnames__`` on the class at its first use: cache it for nn.Parameter now, at import, so the
# first swap inside a test does not read as a patched nn.Parameter to the state guard.
copyreg._slotnames(torch.nn.Parameter)
# setting -> (overwrite_module_params_on_conversion, swap_module_params_on_conversion)
SETTINGS = {"default": (False, False), "overwrite": (True, False), "swap": (False, True)}
# The reproducer line that puts a fresh process in each setting.
FLAG_LINES = {
    "default": "",
    "overwrite": "torch.__future__.set_overwrite_module_params_on_conversion(True)\n",
    "swap": "torch.__future__.set_swap_module_params_on_conversion(True)\n",
}


@contextlib.contextmanager
def conversion_setting(setting: str):
    before = (FUTURE.get_overwrite_module_params_on_conversion(), FUTURE.get_swap_module_params_on_conversion())
    overwrite, swap = SETTINGS[setting]
    try:
        FUTURE.set_overwrite_module_params_on_conversion(overwrite)
        FUTURE.set_swap_module_params_on_conversion(swap)
        yield
    finally:
        FUTURE.set_overwrite_module_params_on_conversion(before[0])
        FUTURE.set_swap_module_params_on_conversion(before[1])


def flagged(setting: str, code: str) -> str:
    """The text of a step that runs ``code`` under ``setting``: the setting's flag lines, then ``code``
    (run it inside :func:`conversion_setting`, which sets the same flags and restores them)."""
    return FLAG_LINES[setting] + code


def run_under(h, setting: str, code: str, **env):
    """Run ``code`` as one step of handle ``h`` under ``setting`` (flag lines shown in the step);
    return the step's value."""
    with conversion_setting(setting):
        return h.run(flagged(setting, code), **env)
