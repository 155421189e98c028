"""Hypothesis strategies for nnconform: blueprints of module graphs (no torch import)."""
from strategies.blueprint import Blueprint, Node, Slot, TensorSpec
from strategies.graphs import NODE_KINDS, blueprints, tensor_specs

__all__ = ["NODE_KINDS", "Blueprint", "Node", "Slot", "TensorSpec", "blueprints", "tensor_specs"]
