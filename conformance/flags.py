"""The three settings of the ``torch.__future__`` conversion flags that conversion and move
properties run under, and a context manager that sets one and always restores both flags."""
import contextlib

import torch

FUTURE = torch.__future__
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
