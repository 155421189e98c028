"""Traversal: modules/children/parameters/buffers, their names, order and de-duplication."""
import types

from hypothesis import given
from hypothesis import strategies as st

from conformance import model
from conformance.check import expect_equal, expect_true
from conformance.handle import script
from conformance.harness import draw_graph
from conformance.registry import invariant
from strategies import blueprints

PREFIXES = st.sampled_from(["", "p", "a.b"])
GRAPHS = blueprints()


# -- live names -> model names -------------------------------------------------------------------
# A wrapper backend renames every module and member (``_orig_mod.``/``module.``, see NameMap) and
# is itself a module at ``''``. The named_* methods join a caller's prefix with a dot; these strip
# it, map the rest through the name map and join it back. Without a name map nothing changes.

def model_name(h, name: str, prefix: str = "") -> str | None:
    """The model name of a live name yielded under ``prefix``; None for the wrapper's own; a name
    not under ``prefix`` is returned as it is (it then differs from the model)."""
    if not prefix:
        return h.names.model(name)
    if name == prefix:
        rest = ""
    elif name.startswith(prefix + ".") and len(name) > len(prefix) + 1:
        rest = name[len(prefix) + 1:]
    else:
        return name
    mapped = h.names.model(rest)
    if mapped is None:
        return None
    return model.join(prefix, mapped) if mapped else prefix


def labelled(h, pairs, prefix: str = "") -> list[tuple[str, str]]:
    """As ``h.labelled``, for names yielded under ``prefix``."""
    out = []
    for name, obj in pairs:
        mapped = model_name(h, name, prefix)
        if mapped is not None:
            out.append((mapped, h.label(obj)))
    return out


def model_root(h) -> str:
    """Source text for the model's root module through ``root`` (``root`` itself without a wrapper):
    the non-recursive calls ask it, since a wrapper's own children and members are the wrapper's."""
    return h.node_ref("")


# -- tests ---------------------------------------------------------------------------------------

@invariant("traversal.named_modules.preorder")
@given(data=st.data())
def test_named_modules_preorder(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    expect_equal(h.labelled(h.run("list(root.named_modules())")), h.expected(model.named_modules(h.blueprint)), h)
    first = h.run("next(root.modules())")
    expect_true(first is h.root, h, actual=h.label(first), expected="root")


@invariant("traversal.named_modules.prefix")
@given(data=st.data())
def test_named_modules_prefix(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    prefix = data.draw(PREFIXES, label="prefix")
    pairs = h.run("list(root.named_modules(prefix=prefix))", prefix=prefix)
    expect_equal(labelled(h, pairs, prefix), h.expected(model.named_modules(h.blueprint, prefix=prefix)), h)


@invariant("traversal.modules.dedup")
@given(data=st.data())
def test_named_modules_remove_duplicate_false(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    expected = h.expected(model.named_modules(h.blueprint, remove_duplicate=False))
    expect_equal(h.labelled(h.run("list(root.named_modules(remove_duplicate=False))")), expected, h)
    own = h.wrapper_modules()
    modules = h.run("list(root.modules(remove_duplicate=False))")
    expect_equal([h.label(m) for m in modules if id(m) not in own], [label for _, label in expected], h)


@invariant("traversal.modules.dedup")
@given(data=st.data())
def test_modules_matches_named_modules(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    expected = [f"n{i}" for _, i in model.named_modules(h.blueprint)]
    own = h.wrapper_modules()
    expect_equal([h.label(m) for m in h.run("list(root.modules())") if id(m) not in own], expected, h)


@invariant("traversal.named_modules.memo")
@given(data=st.data())
def test_named_modules_memo(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    seeded = data.draw(st.sets(st.sampled_from(h.blueprint.reachable())), label="memo nodes")
    refs = sorted(h.node_ref(i) for i in seeded)
    labels = sorted(f"n{i}" for i in seeded)
    expected_names = h.expected(model.named_modules(h.blueprint, memo=set(seeded)))
    pairs = h.run(f"memo = {'{' + ', '.join(refs) + '}' if refs else 'set()'}\nlist(root.named_modules(memo=memo))")
    expect_equal(h.labelled(pairs), expected_names, h)
    own = h.wrapper_modules()
    memo = h.run("list(memo)")
    expected_memo = sorted(set(labels) | {label for _, label in expected_names})
    expect_equal(sorted(h.label(m) for m in memo if id(m) not in own), expected_memo, h,
                 problem="memo after the call should hold every module yielded, plus what it held")


@invariant("traversal.children.immediate_and_dedup")
@given(data=st.data())
def test_named_children(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    expected = h.expected(model.named_children(h.blueprint, h.blueprint.root))
    pairs = h.run(f"list({model_root(h)}.named_children())")
    expect_equal([(name, h.label(m)) for name, m in pairs], expected, h)
    children = h.run(f"list({model_root(h)}.children())")
    expect_equal([h.label(m) for m in children], [label for _, label in expected], h)


def _members(data, backend, kind, **overrides):
    h = draw_graph(data, backend, GRAPHS)
    kwargs = {
        "prefix": data.draw(PREFIXES, label="prefix"),
        "recurse": data.draw(st.booleans(), label="recurse"),
        "remove_duplicate": data.draw(st.booleans(), label="remove_duplicate"),
    }
    kwargs.update(overrides)
    method = "named_parameters" if kind == "param" else "named_buffers"
    args = ", ".join(f"{k}={k}" for k in kwargs)
    if kwargs["recurse"]:
        actual = labelled(h, h.run(f"list(root.{method}({args}))", **kwargs), kwargs["prefix"])
    else:
        # Only the model root's own members: asked of the model root (under a wrapper too).
        pairs = h.run(f"list({model_root(h)}.{method}({args}))", **kwargs)
        actual = [(name, h.label(t)) for name, t in pairs]
    expected = h.expected(model.named_members(h.blueprint, kind, **kwargs), prefix="t")
    expect_equal(actual, expected, h)


@invariant("traversal.parameters.order")
@given(data=st.data())
def test_named_parameters_order(data, backend):
    _members(data, backend, "param", prefix="", recurse=True, remove_duplicate=True)


@invariant("traversal.parameters.recurse_false")
@given(data=st.data())
def test_named_parameters_recurse_false(data, backend):
    _members(data, backend, "param", recurse=False)


@invariant("traversal.named_parameters.dedup_tied")
@given(data=st.data())
def test_named_parameters_any_arguments(data, backend):
    _members(data, backend, "param")


@invariant("traversal.named_parameters.remove_duplicate_false_modules")
@given(data=st.data())
def test_named_parameters_remove_duplicate_false(data, backend):
    _members(data, backend, "param", remove_duplicate=False)


@invariant("traversal.named_buffers.dedup_and_nonpersistent")
@given(data=st.data())
def test_named_buffers_any_arguments(data, backend):
    _members(data, backend, "buffer")


def _plain_members(data, backend, kind):
    h = draw_graph(data, backend, GRAPHS)
    recurse = data.draw(st.booleans(), label="recurse")
    method = "parameters" if kind == "param" else "buffers"
    expected = [f"t{i}" for _, i in model.named_members(h.blueprint, kind, recurse=recurse)]
    owner = "root" if recurse else model_root(h)
    got = h.run(f"list({owner}.{method}(recurse=recurse))", recurse=recurse)
    expect_equal([h.label(t) for t in got], expected, h)


@invariant("traversal.named_parameters.dedup_tied")
@given(data=st.data())
def test_parameters_match_named_parameters(data, backend):
    _plain_members(data, backend, "param")


@invariant("traversal.named_buffers.dedup_and_nonpersistent")
@given(data=st.data())
def test_buffers_match_named_buffers(data, backend):
    _plain_members(data, backend, "buffer")


@invariant("traversal.yields_live_objects_lazily")
@given(data=st.data())
def test_traversal_methods_are_generators(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    for method in ("modules", "named_modules", "children", "named_children", "parameters",
                   "named_parameters", "buffers", "named_buffers"):
        result = h.run(f"root.{method}()")
        expect_true(isinstance(result, types.GeneratorType), h, actual=type(result).__name__, expected="generator")


@invariant("traversal.none_entries_skipped")
@given(data=st.data())
def test_none_slots_stay_registered(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    registry = {"child": "_modules", "param": "_parameters", "buffer": "_buffers"}
    for i in h.blueprint.reachable():
        for s in h.blueprint.nodes[i].slots:
            if s.ref is None and s.kind in registry:
                node = h.node_ref(i)
                got = h.run(f"({s.name!r} in {node}.{registry[s.kind]}, getattr({node}, {s.name!r}))")
                expect_equal(got, (True, None), h)


@invariant("access.get_parameter_get_buffer")
@given(data=st.data())
def test_get_parameter_and_get_buffer_agree_with_traversal(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    for kind, getter in (("param", "get_parameter"), ("buffer", "get_buffer")):
        members = model.named_members(h.blueprint, kind, remove_duplicate=False)
        got = h.run(f"[root.{getter}(t) for t in targets]", targets=[h.names.live(name) for name, _ in members])
        expect_equal([(name, h.label(obj)) for (name, _), obj in zip(members, got)],
                     [(name, f"t{ref}") for name, ref in members], h)


@invariant("access.get_submodule")
@given(data=st.data())
def test_get_submodule_agrees_with_traversal(data, backend):
    h = draw_graph(data, backend, GRAPHS)
    modules = model.named_modules(h.blueprint, remove_duplicate=False)
    got = h.run("[root.get_submodule(t) for t in targets]", targets=[h.names.live(name) for name, _ in modules])
    expect_equal([(name, h.label(obj)) for (name, _), obj in zip(modules, got)],
                 [(name, f"n{i}") for name, i in modules], h)


@invariant("traversal.dedup.first_path_wins")
@given(data=st.data())
def test_shared_module_named_by_its_first_path(data, backend):
    """Each module de-duplicated by ``named_modules()`` keeps the first name that the
    non-de-duplicating walk gives it."""
    h = draw_graph(data, backend, GRAPHS)
    first: dict[str, str] = {}
    for name, label in h.labelled(h.run("list(root.named_modules(remove_duplicate=False))")):
        first.setdefault(label, name)
    expected = [(name, label) for label, name in first.items()]
    expect_equal(h.labelled(h.run("list(root.named_modules())")), expected, h)


@invariant("traversal.dedup.identity_not_storage")
def test_dedup_is_by_object_not_storage(backend):
    h = script("base = torch.zeros(2)\n"
               "root, child = nn.Module(), nn.Module()\n"
               "root.a, root.b = nn.Parameter(base), nn.Parameter(base)  # two objects over one tensor\n"
               "root.c = child\n"
               "child.register_buffer('pb', root.a)  # one Parameter as a buffer here and a parameter above",
               backend=backend)
    live = h.names.live
    expect_equal(h.run("[name for name, _ in root.named_parameters()]"), [live("a"), live("b")], h)
    expect_equal(h.run("[name for name, _ in root.named_buffers()]"), [live("c.pb")], h)
    expect_equal(h.run("list(root.state_dict())"), [live("a"), live("b"), live("c.pb")], h)
