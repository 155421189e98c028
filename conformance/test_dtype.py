"""dtype conversions on CPU: what ``float()``/``double()``/``half()``/``bfloat16()``, ``to(dtype)``
and ``type()`` cast, and what they keep (objects, storage, sharing).

Every conversion property runs under the three settings of the ``torch.__future__`` conversion
flags (``[default]``, ``[overwrite]``, ``[swap]``): the step that converts starts with the
setting's flag lines and runs with the flags set around it, restored in ``finally``
(``conformance.flags``). Every conversion and every observation is a step of the handle (Note [one
source per call]); members are read through ``root``. Expected values come from the builder's value
function ``_t(shape, dtype, seed)`` cast with ``Tensor.to``, never from the converted module; object
identity across a conversion is a snapshot taken by a step before it, compared after.
"""
import keyword
import warnings

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conformance import model
from conformance import model_dtype as md
from conformance.check import expect_equal, expect_no_error, expect_raises, expect_true
from conformance.flags import FLAG_LINES, SETTINGS, conversion_setting, flagged, run_under
from conformance.handle import script
from conformance.harness import draw_graph, needs
from conformance.registry import invariant
from strategies import blueprints

COMPLEX_WARNING = "Complex modules are a new feature under active development"
# Error of type(<integer>) on a parameter that requires grad; the spec pins it for the default setting.
INTEGRAL_TYPE_ERROR = {
    "default": "data set to a tensor that requires gradients must be floating point or complex dtype",
}
GRAPHS = blueprints()
# Module-only graphs with many slots: the plain graphs almost never share a buffer.
BUFFER_SHARING_GRAPHS = blueprints(kinds=("Module",), max_slots=8)


def converted(h, setting: str, call: str):
    """Run ``out = root.<call>`` as one step under ``setting``; return (whether it returned root
    itself, the type it returned, the UserWarnings it emitted)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        same, kind = run_under(h, setting, f"out = root.{call}\nout is root, type(out).__name__")
    return same, kind, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def settings_params(**ids):
    """``setting`` parametrization; ``ids`` maps a setting to the invariant it checks there."""
    return pytest.mark.parametrize("setting", [pytest.param(s, marks=invariant(i)) for s, i in ids.items()])


def each_setting(ident: str):
    return settings_params(**{s: ident for s in SETTINGS})


def dtype_name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def slot_label(i: int, name: str) -> str:
    return f"n{i}.{name}"


TABLES = {"param": "_parameters", "buffer": "_buffers", "child": "_modules"}


def member_text(h, i: int, kind: str, name: str) -> str:
    """Source text of what node ``i`` holds under ``name``, read from its registry (no attribute
    lookup), through ``root``."""
    return f"{h.node_ref(i)}.{TABLES[kind]}[{name!r}]"


def attribute(owner: str, name: str) -> str:
    return f"{owner}.{name}" if name.isidentifier() and not keyword.iskeyword(name) else f"getattr({owner}, {name!r})"


def tensor_ref(h, r: int) -> str:
    """Source text reaching tensor ``r`` at its first path through ``root`` (``Handle.ref`` writes
    ``root.0`` for a ParameterList entry)."""
    owner, _, name = h.tensor_paths[r][1].rpartition(".")
    return attribute(h.node_ref(owner), name)


def listing(texts) -> str:
    return "[" + ", ".join(texts) + "]"


def observe(h) -> list[tuple]:
    """Every registered parameter and buffer, per slot: kind, dtype, requires_grad, grad dtype
    (one step per kind, through ``root``)."""
    out = []
    params, buffers = md.member_slots(h.blueprint, "param"), md.member_slots(h.blueprint, "buffer")
    if params:
        seen = h.run("[(type(v).__name__, v.dtype, v.requires_grad, None if v.grad is None else v.grad.dtype) for v in "
                     + listing(member_text(h, i, "param", name) for i, name, _ in params) + "]")
        out += [(slot_label(i, name), cls, dtype_name(dtype), rg, None if grad is None else dtype_name(grad))
                for (i, name, _), (cls, dtype, rg, grad) in zip(params, seen)]
    if buffers:
        seen = h.run("[(type(v).__name__, v.dtype, v.requires_grad) for v in "
                     + listing(member_text(h, i, "buffer", name) for i, name, _ in buffers) + "]")
        out += [(slot_label(i, name), cls, dtype_name(dtype), rg, "-")
                for (i, name, _), (cls, dtype, rg) in zip(buffers, seen)]
    return out


def expected_observation(bp, conv) -> list[tuple]:
    out = []
    for kind in ("param", "buffer"):
        for i, name, r in md.member_slots(bp, kind):
            spec, dtype = bp.tensors[r], md.cast(bp.tensors[r].dtype, conv)
            grad = (dtype if spec.grad else None) if kind == "param" else "-"
            out.append((slot_label(i, name), "Parameter" if kind == "param" else "Tensor", dtype,
                        md.requires_grad_after(bp, r, conv), grad))
    return out


def value_mismatches(h, conv) -> list[tuple[str, str]]:
    """Slots (and their ``.grad``) whose values (read by one step) differ from the blueprint's
    values cast with ``Tensor.to``."""
    bp, value = h.blueprint, h.namespace["_t"]
    wanted = []  # (text, original value)
    for kind in ("param", "buffer"):
        for i, name, r in md.member_slots(bp, kind):
            spec = bp.tensors[r]
            text = member_text(h, i, kind, name)
            wanted.append((text, value(spec.shape, getattr(torch, spec.dtype), spec.seed), r))
            if kind == "param" and spec.grad:
                wanted.append((text + ".grad", value(spec.shape, getattr(torch, spec.dtype), spec.seed + 1), r))
    if not wanted:
        return []
    held = h.run(listing(text for text, _, _ in wanted))
    bad = []
    for (text, original, r), actual in zip(wanted, held):
        expected = original.to(getattr(torch, md.cast(bp.tensors[r].dtype, conv)))
        if actual is None or not torch.equal(actual.detach(), expected):
            got = None if actual is None else actual.detach().tolist()
            bad.append((text, f"{got} != expected {expected.tolist()}"))
    return bad


def lstm_weight_tied_elsewhere(bp) -> bool:
    """An LSTM parameter that another slot also holds (see ``test_swap_with_lstm_weight_tied_elsewhere``)."""
    lstm = {s.ref for n in bp.nodes if n.kind == "LSTM" for s in n.slots if s.ref is not None}
    uses = [s.ref for n in bp.nodes for s in n.slots if s.kind == "param" and s.ref in lstm]
    return len(uses) > len(set(uses))


def draw_case(data, backend, choices, setting, graphs=GRAPHS):
    if setting == "swap":
        # A known deviation that fails every swap conversion it meets; it has its own test, so the
        # other swap properties draw around it instead of all becoming expected failures.
        graphs = graphs.filter(lambda bp: not lstm_weight_tied_elsewhere(bp))
    h = draw_graph(data, backend, graphs)
    conv = data.draw(st.sampled_from(choices), label="conversion")
    return h, conv


def fixed(source: str, backend):
    """A handle over a hand-written program, through ``backend``; built-in layers initialise from
    torch's global RNG, which the build leaves as it was (as the blueprint builder does)."""
    with torch.random.fork_rng(devices=[]):
        return script(source, backend=backend)


# -- what is cast ------------------------------------------------------------------------------
def check_conversion(data, backend, setting, choices):
    """The conversion returns self, casts what the model says (dtype, values, requires_grad,
    .grad), raises where the model says, and leaves plain tensor attributes alone."""
    h, conv = draw_case(data, backend, choices, setting)
    if md.raises(h.blueprint, conv):
        with conversion_setting(setting):
            expect_raises(h, flagged(setting, f"out = root.{conv.call}"), RuntimeError,
                          match=INTEGRAL_TYPE_ERROR.get(setting))
        return
    plain = model.plain_attributes(h.blueprint)
    plain_texts = [f"getattr({h.node_ref(i)}, {n!r})" for i, n, _ in plain]  # ScriptModules keep no __dict__ entry
    if plain:
        h.run(f"plain = {listing(plain_texts)}")
    same, kind, caught = converted(h, setting, conv.call)
    expect_true(same, h, actual=kind, expected="root", problem="a conversion must return self")
    if conv.warns:
        expect_true(any(COMPLEX_WARNING in w for w in caught), h, actual=caught,
                    expected=f"a UserWarning containing {COMPLEX_WARNING!r}")
    expect_equal(observe(h), expected_observation(h.blueprint, conv), h,
                 problem="(slot, type, dtype, requires_grad, grad dtype) after the conversion differ from the model")
    expect_equal(value_mismatches(h, conv), [], h, problem="values differ from Tensor.to(dtype) of the originals")
    if plain:
        check_plain_attributes(h, plain, plain_texts)


def check_plain_attributes(h, plain, texts):
    """Unregistered tensor attributes are never cast nor replaced (``plain``: the snapshot taken
    before the conversion)."""
    held = h.run(f"[(x is p, x.dtype) for x, p in zip({listing(texts)}, plain)]")
    actual = [(slot_label(i, n), "kept" if kept else "replaced", dtype_name(dtype))
              for (i, n, _), (kept, dtype) in zip(plain, held)]
    expected = [(slot_label(i, n), "kept", h.blueprint.tensors[r].dtype) for i, n, r in plain]
    expect_equal(actual, expected, h, problem="plain tensor attributes must be neither cast nor replaced")


@each_setting("conv.float_family_only_floating")
@needs("torch-objects")
@given(data=st.data())
def test_float_family_casts_floating_only(data, backend, setting):
    check_conversion(data, backend, setting, md.FLOAT_FAMILY)


@each_setting("conv.to_dtype_float_or_complex_only")
@needs("torch-objects")
@given(data=st.data())
def test_to_dtype_casts_floating_only(data, backend, setting):
    check_conversion(data, backend, setting, md.TO_DTYPE)


@each_setting("conv.type_casts_all")
@needs("torch-objects")
@given(data=st.data())
def test_type_casts_everything(data, backend, setting):
    check_conversion(data, backend, setting, md.TYPE_FLOAT + md.TYPE_INTEGRAL)


@invariant("conv.to_dtype_float_or_complex_only")
@needs("torch-objects")
@given(data=st.data())
def test_to_integral_dtype_raises_type_error(data, backend):
    # The dtype is checked before any tensor is touched, so the flags do not matter here.
    h = draw_graph(data, backend, GRAPHS)
    call = data.draw(st.sampled_from(md.TO_INTEGRAL_CALLS), label="call")
    before = observe(h)
    with conversion_setting("default"):
        expect_raises(h, flagged("default", f"out = root.{call}"), TypeError,
                      match="nn.Module.to only accepts floating point or complex dtypes, but got desired dtype=")
    expect_equal(observe(h), before, h, problem="a rejected to() must leave the module unchanged")


# -- what is kept ------------------------------------------------------------------------------
@settings_params(default="conv.param_identity_default", overwrite="conv.overwrite_flag", swap="conv.swap_flag")
@given(data=st.data())
def test_parameter_objects(data, backend, setting):
    """default and swap keep each Parameter and .grad object; overwrite assigns new Parameters
    to those it casts, leaving the original objects (and their .grad) as they were."""
    h, conv = draw_case(data, backend, md.FLOAT_TARGETS, setting)
    bp = h.blueprint
    slots = md.member_slots(bp, "param")
    refs = sorted({r for _, _, r in slots})
    index = {r: k for k, r in enumerate(refs)}
    # Snapshot, through root, of each parameter object (at its first path) and its .grad.
    h.run(f"before = {listing(tensor_ref(h, r) for r in refs)}\ngrads = [p.grad for p in before]")
    converted(h, setting, conv.call)
    seen = h.run(listing(
        f"({member_text(h, i, 'param', name)} is before[{index[r]}], "
        f"{member_text(h, i, 'param', name)}.grad is grads[{index[r]}], before[{index[r]}].dtype, "
        f"None if before[{index[r]}].grad is None else before[{index[r]}].grad.dtype)" for i, name, r in slots))
    actual, expected = [], []
    for (i, name, r), (same, same_grad, original, original_grad) in zip(slots, seen):
        spec = bp.tensors[r]
        if setting != "overwrite":
            actual.append((slot_label(i, name), f"t{r}" if same else "new", "original grad" if same_grad else "other grad"))
            expected.append((slot_label(i, name), f"t{r}", "original grad"))
        elif md.cast(spec.dtype, conv) != spec.dtype:
            actual.append((slot_label(i, name), "new" if not same else f"t{r}", dtype_name(original),
                           None if original_grad is None else dtype_name(original_grad)))
            expected.append((slot_label(i, name), "new", spec.dtype, spec.dtype if spec.grad else None))
    expect_equal(actual, expected, h,
                 problem="Parameter objects after the conversion differ from the documented setting")


def storage_pointers(h, tensors) -> dict[str, int]:
    """Storage address of every registered tensor in ``tensors`` and of its .grad, per slot (one step)."""
    texts = [member_text(h, i, kind, name) for kind in ("param", "buffer")
             for i, name, r in md.member_slots(h.blueprint, kind) if r in tensors]
    kinds = [kind for kind in ("param", "buffer") for i, name, r in md.member_slots(h.blueprint, kind) if r in tensors]
    if not texts:
        return {}
    found = h.run(listing(f"({t}.data_ptr(), None if {t}.grad is None else {t}.grad.data_ptr())" if kind == "param"
                          else f"({t}.data_ptr(), None)" for t, kind in zip(texts, kinds)))
    out = {}
    for text, (ptr, grad_ptr) in zip(texts, found):
        out[text] = ptr
        if grad_ptr is not None:
            out[text + ".grad"] = grad_ptr
    return out


@each_setting("conv.noop_keeps_storage")
@given(data=st.data())
def test_noop_conversion_keeps_storage(data, backend, setting):
    h, conv = draw_case(data, backend, md.FLOAT_TARGETS, setting)
    kept = md.unchanged(h.blueprint, conv)
    before = storage_pointers(h, kept)
    converted(h, setting, conv.call)
    after = storage_pointers(h, kept)
    expect_equal(sorted(after.items()), sorted(before.items()), h,
                 problem="a tensor whose dtype does not change must keep its storage")


def groups(slots, key) -> list[list[str]]:
    """Slot labels grouped by ``key(node, name, ref)``, as a canonical sorted list."""
    out: dict = {}
    for i, name, r in slots:
        out.setdefault(key(i, name, r), []).append(slot_label(i, name))
    return sorted(out.values())


def check_sharing(data, backend, setting, kind, graphs=GRAPHS):
    """Slots grouped by the identity of what they hold must group as the blueprint's references."""
    h, conv = draw_case(data, backend, md.FLOAT_TARGETS, setting, graphs)
    converted(h, setting, conv.call)
    slots = md.member_slots(h.blueprint, kind)
    ids = h.run(f"[id(x) for x in {listing(member_text(h, i, kind, name) for i, name, _ in slots)}]")
    identity = {(i, name): ident for (i, name, _), ident in zip(slots, ids)}
    expect_equal(groups(slots, lambda i, name, r: identity[i, name]), groups(slots, lambda i, name, r: r), h,
                 problem=f"slots grouped by the identity of the {TABLES[kind][1:]} entry they hold: sharing changed")


@each_setting("conv.sharing.tied_parameters")
@given(data=st.data())
def test_conversion_keeps_tied_parameters(data, backend, setting):
    check_sharing(data, backend, setting, "param")


@each_setting("conv.sharing.shared_buffers")
@given(data=st.data())
def test_conversion_keeps_shared_buffers(data, backend, setting):
    check_sharing(data, backend, setting, "buffer", BUFFER_SHARING_GRAPHS)


@each_setting("conv.sharing.shared_modules")
@given(data=st.data())
def test_conversion_keeps_shared_modules(data, backend, setting):
    check_sharing(data, backend, setting, "child")


@invariant("conv.shared_module_applied_per_parent")
@needs("torch-objects")
@given(data=st.data())
def test_apply_fn_once_per_parent(data, backend):
    """``_apply`` recurses through ``children()``: a shared module is converted once per parent."""
    h = draw_graph(data, backend, GRAPHS)
    bp, grad_labels = h.blueprint, {}
    for _, _, r in md.member_slots(bp, "param"):
        grad = h.tensor(r).grad
        if grad is not None:
            grad_labels[id(grad)] = f"t{r}.grad"
    seen = h.run("seen = []\nout = root._apply(lambda t: seen.append(t) or t)\nseen")
    seen = [grad_labels.get(id(t)) or h.label(t) for t in seen]
    expected = []
    for i in model.apply_order(bp):
        for _, r in model.own(bp, i, "param"):
            expected += [f"t{r}"] + ([f"t{r}.grad"] if bp.tensors[r].grad else [])
        expected += [f"t{r}" for _, r in model.own(bp, i, "buffer")]
    expect_equal(seen, expected, h)


# -- fixed checks --------------------------------------------------------------------------------
# ``m`` below: the hand-written root as the object under test holds it (``root`` itself, or the
# wrapped module at the backend's name map: ``root._orig_mod``, ``root.module``).
@invariant("conv.memory_format")
def test_memory_format_channels_last(backend):
    h = fixed("root = nn.Conv2d(2, 3, 2)", backend)
    m = h.node_ref("")
    actual = h.run("out = root.to(memory_format=torch.channels_last)\n"
                   f"(out is root, {m}.weight.is_contiguous(memory_format=torch.channels_last), "
                   f"{m}.weight.is_contiguous(), {m}.bias.is_contiguous())")
    expect_equal(actual, (True, True, False, True), h)


@invariant("conv.memory_format")
def test_memory_format_channels_last_3d(backend):
    h = fixed("root = nn.Conv3d(2, 3, 2)", backend)
    actual = h.run("out = root.to(memory_format=torch.channels_last_3d)\n"
                   f"{h.node_ref('')}.weight.is_contiguous(memory_format=torch.channels_last_3d)")
    expect_equal(actual, True, h)


@invariant("conv.signatures_and_cpu")
def test_cpu_signatures(backend):
    h = fixed("root = nn.Linear(2, 2)", backend)
    results = h.run("(root.cpu() is root, root.to('cpu', non_blocking=True) is root, "
                    f"root.to('cpu', torch.float64) is root, {h.node_ref('')}.weight.dtype)")
    expect_equal(results, (True, True, True, torch.float64), h)
    expect_raises(h, "root.to('float')", RuntimeError, match="device type at start of device string: float")


@invariant("conv.signatures_and_cpu")
@pytest.mark.skipif(torch.backends.cuda.is_built(), reason="torch is built with CUDA: cuda() is a device move")
@pytest.mark.parametrize("call", ["root.cuda()", "root.cuda(0)", "root.cuda(device=0)", "root.cuda(device='cuda:0')"])
def test_cuda_without_cuda_build(backend, call):
    h = fixed("root = nn.Linear(2, 2)", backend)
    if call == "root.cuda()":
        expect_raises(h, call, AssertionError, match="Torch not compiled with CUDA enabled")
    else:  # with a device: still an error (its type and message depend on the device form)
        expect_raises(h, call, Exception)


@invariant("conv.cuda_device")
@given(data=st.data())
def test_cuda_device_moves_every_member(data, backend):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device visible: cuda(device) is a device move")
    h = draw_graph(data, backend, GRAPHS)
    index = data.draw(st.integers(0, torch.cuda.device_count() - 1), label="device index")
    form = data.draw(st.sampled_from(["root.cuda({i})", "root.cuda(device={i})"]), label="call")
    same = h.run(f"out = {form.format(i=index)}\nout is root")
    members = sorted(h.tensor_paths)
    devices = h.run(f"[str(t.device) for t in [{', '.join(h.ref(t) for t in members)}]]")
    expected = [f"cuda:{index}" if h.tensor_paths[t][0] in ("param", "buffer") else "cpu" for t in members]
    expect_equal((same, devices), (True, expected), h)


@invariant("conv.overwrite_flag")
def test_overwrite_flag_default_and_set():
    # Stays a fixed example of eager torch: it reads a global flag and builds no module to wrap.
    h = script("")
    default = h.run("torch.__future__.get_overwrite_module_params_on_conversion()")
    during = run_under(h, "overwrite", "torch.__future__.get_overwrite_module_params_on_conversion()")
    expect_equal((default, during), (False, True), h)


@invariant("conv.swap_flag")
def test_swap_takes_precedence_over_overwrite(backend):
    h = fixed("root = nn.Linear(2, 2)", backend)
    h.run(f"w = {h.node_ref('')}.weight")
    run_under(h, "swap", "torch.__future__.set_overwrite_module_params_on_conversion(True)\n"  # restored by run_under
                         "out = root.double()")
    expect_equal(h.run(f"{h.node_ref('')}.weight is w, w.dtype"), (True, torch.float64), h)


@invariant("conv.swap_flag")
def test_swap_fails_on_live_view(backend):
    h = fixed("root = nn.Linear(2, 2)", backend)
    h.run(f"v = {h.node_ref('')}.weight.view(4)")  # the live view is the point
    # The message names the class of the module that holds the weight, as the object under test holds it.
    owner = type(h.module("")).__name__
    with conversion_setting("swap"):
        expect_raises(h, flagged("swap", "out = root.double()"), RuntimeError,
                      match=f"_apply(): Couldn't swap {owner}.weight")


@invariant("conv.swap_flag")
@pytest.mark.parametrize("call", ["float()", "double()"])
def test_swap_with_lstm_weight_tied_elsewhere(call, backend):
    """Swap must convert a module whose LSTM weight is also registered in a sibling (a tie)."""
    h = fixed("root = nn.Module()\nroot.lstm = nn.LSTM(1, 1)\nroot.other = nn.Module()\n"
              "root.other.register_parameter('w', root.lstm.bias_hh_l0)", backend)
    with conversion_setting("swap"):
        expect_no_error(h, FLAG_LINES["swap"] + f"out = root.{call}")
    m = h.node_ref("")
    tied = h.run(f"{m}.other.w is {m}.lstm.bias_hh_l0")
    expect_true(tied, h, actual=tied, expected=True, problem="the tie is lost")
