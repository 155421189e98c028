"""Hypothesis strategies for nnconform: blueprints of module graphs (no torch import)."""
from strategies.blueprint import Blueprint, Node, Slot, TensorSpec
from strategies.graphs import NODE_KINDS, blueprints, tensor_specs
from strategies.layer_state import OWN_STATE_KINDS, own_state_blueprints
from strategies.tensors import rich_blueprints

__all__ = ["NODE_KINDS", "OWN_STATE_KINDS", "Blueprint", "Node", "Slot", "TensorSpec", "blueprints",
           "own_state_blueprints", "rich_blueprints", "tensor_specs"]
