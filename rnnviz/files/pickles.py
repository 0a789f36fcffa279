"""The pickle inside a PyTorch file, played without building it: `PickleScan` runs every
instruction (`pickletools.genops`) on a symbolic stack of small placeholders, as torch's
weights-only unpickler would, and refuses what that unpickler refuses and what it accepts but a
server cannot survive (see `rnnviz.files.scan`).
"""
from __future__ import annotations

import math
import pickletools
from typing import Any

import torch
from torch._utils import IMPORT_MAPPING, NAME_MAPPING

from ..i18n import N_, Message
from .limits import MAX_DIMS, READABLE_DTYPES, Damaged, Limits, NotWeightsOnly, Refused, ScanReport, torch_tables
from .quote import clip, dtype_name, quote, shape_text, size_text, sizes


class Container:
    """A list, tuple, dict or set of the scanned pickle: its items, its size written out as a tree
    and its depth (lower bounds once it is placed in another container and then given more items),
    and whether it was placed in another container."""

    __slots__ = ("kind", "items", "size", "depth", "placed")

    def __init__(self, kind: str):
        self.kind, self.items, self.size, self.depth, self.placed = kind, [], 1, 1, False


class _Global:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class _Storage:
    __slots__ = ("dtype", "numel")

    def __init__(self, dtype: torch.dtype, numel: int):
        self.dtype, self.numel = dtype, numel


class _Tensor:
    __slots__ = ()


class _Value:
    """A leaf that some allowed call builds (bytes, a complex number, a device, a layout)."""

    __slots__ = ()


_REBUILD_TENSOR = {"torch._utils._rebuild_tensor": 4, "torch._utils._rebuild_tensor_v2": 6,
                   "torch._utils._rebuild_tensor_v3": 7}   # name -> number of arguments without the optional ones
_REBUILD_PARAMETER = ("torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state")
_LEAF_CALLS = ("torch.device", "torch.serialization._get_layout", "_codecs.encode", "builtins.complex",
               "builtins.bytearray")
_NOT_READ = {"torch._utils._rebuild_sparse_tensor": N_("a sparse tensor (save tensor.to_dense())"),
             "torch._utils._rebuild_qtensor": N_("a quantized tensor (save tensor.dequantize())"),
             "torch._utils._rebuild_meta_tensor_no_storage": N_("a tensor without numbers (on the meta device)"),
             "torch._utils._rebuild_nested_tensor": N_("a nested tensor"),
             "torch._utils._rebuild_wrapper_subclass": N_("a tensor subclass"),
             "torch._tensor._rebuild_from_type_v2": N_("a tensor subclass or a tensor with Python attributes"),
             "torch._utils._rebuild_device_tensor_from_numpy": N_("a tensor of another device"),
             "torch._utils._rebuild_device_tensor_from_cpu_tensor": N_("a tensor of another device")}


def _before(reason: Message) -> Refused:
    """A refusal of the scan, which reads nothing of the file."""
    return Refused(Message("{reason} It was refused before reading: nothing in it was run or unpacked.",
                           reason=reason))


class PickleScan:
    """Plays pickle instructions on a symbolic stack, as torch's weights-only unpickler would, but
    builds only small placeholders, so that no instruction can cost more than a few operations."""

    def __init__(self, limits: Limits, records: dict | None):
        self.limits = limits
        self.records = records      # zip: storage key -> bytes stored; None: a legacy file
        self.storages: dict = {}    # key -> (dtype, numel)
        self.stored: dict = {}      # legacy: key -> bytes, and their sum
        self.stored_bytes = 0
        self.opcodes = self.tensors = self.elements = 0
        self.stale = False          # some container's bounds are out of date: measure at the end
        self.allowed, self.storage_types, self.dtypes = torch_tables()

    def report(self, fmt: str) -> ScanReport:
        return ScanReport(fmt, self.opcodes, self.tensors, self.elements)

    def run(self, stream) -> Any:
        """Scan one pickle from `stream`; its value (a placeholder for anything but plain scalars)."""
        stack: list = []
        marks: list = []
        memo: dict = {}
        ops = pickletools.genops(stream)
        limits = self.limits
        while True:
            try:
                op, arg, _ = next(ops)
            except StopIteration:
                raise Damaged("the pickle ends without its STOP instruction") from None
            except ValueError as exc:
                if "unknown" in str(exc):
                    raise NotWeightsOnly("Weights only load failed: an unknown pickle instruction") from None
                raise Damaged(f"the pickle is truncated ({clip(str(exc), 80)})") from None
            self.opcodes += 1
            if self.opcodes > limits.max_opcodes:
                raise _before(Message("The file's pickle has more than {most:,} instructions; a model file needs "
                                      "a few dozen per tensor.", most=limits.max_opcodes))
            name = op.name
            try:
                if name in ("BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT", "BINUNICODE", "SHORT_BINSTRING"):
                    stack.append(arg)
                elif name in ("NONE", "NEWTRUE", "NEWFALSE"):
                    stack.append({"NONE": None, "NEWTRUE": True, "NEWFALSE": False}[name])
                elif name == "MARK":
                    marks.append(stack)
                    stack = []
                    if len(marks) > limits.max_depth:
                        raise self._too_deep()
                elif name in ("EMPTY_TUPLE", "EMPTY_LIST", "EMPTY_DICT", "EMPTY_SET"):
                    stack.append(Container(name[6:].lower()))
                elif name == "TUPLE":
                    items, stack = stack, marks.pop()
                    stack.append(self._new("tuple", items))
                elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                    n = int(name[-1])
                    if len(stack) < n:
                        raise IndexError
                    items = stack[-n:]
                    del stack[-n:]
                    stack.append(self._new("tuple", items))
                elif name == "APPEND":
                    item = stack.pop()
                    self._add(self._target(stack, "list"), [item])
                elif name == "APPENDS":
                    items, stack = stack, marks.pop()
                    self._add(self._target(stack, "list"), items)
                elif name == "SETITEM":
                    value, key = stack.pop(), stack.pop()
                    self._add(self._target(stack, "dict"), [self._key(key), value])
                elif name == "SETITEMS":
                    items, stack = stack, marks.pop()
                    if len(items) % 2:
                        raise IndexError
                    for key in items[::2]:
                        self._key(key)
                    self._add(self._target(stack, "dict"), items)
                elif name in ("BINPUT", "LONG_BINPUT"):
                    memo[arg] = stack[-1]
                elif name in ("BINGET", "LONG_BINGET"):
                    stack.append(memo[arg])
                elif name == "GLOBAL":
                    stack.append(self._global(arg))
                elif name == "REDUCE":
                    args = stack.pop()
                    stack[-1] = self._reduce(stack[-1], args, self._nearby_name(stack, marks))
                elif name == "NEWOBJ":
                    args, cls = stack.pop(), stack.pop()
                    stack.append(self._newobj(cls, args))
                elif name == "BUILD":
                    state = stack.pop()
                    inst = stack[-1]
                    if type(inst) is not Container or inst.kind != "dict":
                        raise _before(Message("The file sets the state of an object other than a dictionary (a legacy "
                                              "form of tensor), which this app does not read. Save the file again "
                                              "with torch.save."))
                    self._add(inst, [state])   # an OrderedDict's attributes (a state_dict's _metadata)
                elif name == "BINPERSID":
                    stack.append(self._storage(stack.pop()))
                elif name == "PROTO":
                    pass
                elif name == "STOP":
                    value = stack.pop()
                    if self.stale:
                        self._measure(value)
                    return value
                else:
                    raise NotWeightsOnly(f"Weights only load failed: the pickle instruction {name} is not allowed")
            except (IndexError, KeyError):
                raise Damaged(f"the pickle is malformed (instruction {name} has nothing to work on)") from None

    # ----- structures
    def _new(self, kind: str, items: list) -> Container:
        c = Container(kind)
        self._add(c, items)
        return c

    def _add(self, c: Container, items: list):
        c.items.extend(items)
        size, depth = c.size, c.depth
        for x in items:
            if type(x) is Container:
                size += x.size
                depth = max(depth, x.depth + 1)
                x.placed = True
                self.stale |= x is c
            else:
                size += 1
        self.stale |= c.placed   # the containers that hold c hold more than their bounds say
        c.size, c.depth = size, depth
        if depth > self.limits.max_depth or size > self.limits.max_items:
            self._check(size, depth)

    def _check(self, size: int, depth: int):
        if depth > self.limits.max_depth:
            raise self._too_deep()
        if size > self.limits.max_items:
            raise _before(Message("The file builds a structure out of copies of itself: written out it would have "
                                  "more than {most:,} items (a hash or repr bomb, which can freeze a server for "
                                  "minutes).", most=self.limits.max_items))

    def _too_deep(self) -> Refused:
        return _before(Message("The file nests containers more than {most} deep (tuples inside tuples, lists inside "
                               "lists); a model file needs a few levels, and deep nesting can crash a reader.",
                               most=self.limits.max_depth))

    def _measure(self, root):
        """Exact tree size and depth of everything reachable from the pickle's value, and no
        cycles: needed when items were added to a list or dict already placed in another."""
        if type(root) is not Container:
            return
        done: dict = {}     # id -> (size, depth); an id present with None is being visited
        todo = [(root, 0)]
        while todo:
            node, i = todo.pop()
            if i == 0:
                done[id(node)] = None
            items = node.items
            while i < len(items) and type(items[i]) is not Container:
                i += 1
            if i < len(items):
                child = items[i]
                todo.append((node, i + 1))
                if id(child) not in done:
                    todo.append((child, 0))
                elif done[id(child)] is None:
                    raise _before(Message("The file holds a structure that contains itself, which no model file "
                                          "does."))
                continue
            measured = [done[id(x)] if type(x) is Container else (1, 0) for x in items]
            size = 1 + sum(s for s, _ in measured)
            depth = 1 + max((d for _, d in measured), default=0)
            self._check(size, depth)
            done[id(node)] = (size, depth)

    def _target(self, stack: list, kind: str) -> Container:
        target = stack[-1]
        if type(target) is not Container or target.kind != kind:
            raise NotWeightsOnly(f"Weights only load failed: {'appends to' if kind == 'list' else 'sets an item of'} "
                                 f"something that is not a {kind}")
        return target

    def _key(self, key):
        if isinstance(key, str) and len(key) > self.limits.max_key_chars:
            raise _before(Message("The file has a dictionary key of {n:,} characters; names in a model file are "
                                  "short, and this app reads keys of up to {most:,}.", n=len(key),
                                  most=self.limits.max_key_chars))
        if type(key) is Container and key.kind != "tuple":
            raise Damaged(f"it uses a {key.kind} as a dictionary key")
        return key

    @staticmethod
    def _nearby_name(stack: list, marks: list) -> str | None:
        """The dictionary key a tensor being built is most likely stored under: the nearest text
        below it on the stack (for the messages only)."""
        for frame, skip in ((stack, 1), *((m, 0) for m in marks[-1:-3:-1])):
            for i in range(len(frame) - 1 - skip, max(len(frame) - 4 - skip, -1), -1):
                if isinstance(frame[i], str):
                    return frame[i]
        return None

    # ----- globals and calls
    def _global(self, arg: str) -> _Global:
        module, _, attr = arg.partition(" ")
        if (module, attr) in NAME_MAPPING:   # Python 2 names, as torch's unpickler maps them
            module, attr = NAME_MAPPING[(module, attr)]
        else:
            module = IMPORT_MAPPING.get(module, module)
        full = f"{module}.{attr}"
        if full not in self.allowed:
            raise NotWeightsOnly(f"Weights only load failed: Unsupported global: GLOBAL {clip(full, 100)} is not "
                                 f"allowed")
        return _Global(full)

    def _reduce(self, func, args, near: str | None):
        if type(func) is not _Global:
            raise NotWeightsOnly("Weights only load failed: a call of something that is not an allowed global")
        if type(args) is not Container or args.kind != "tuple":
            raise Damaged("a call's arguments are not a tuple")
        name, a = func.name, args.items
        if name in _REBUILD_TENSOR:
            return self._tensor(name, a, near)
        if name in _REBUILD_PARAMETER:
            if not a or type(a[0]) is not _Tensor:
                raise Damaged("a parameter without a tensor")
            return a[0]
        if name in ("collections.OrderedDict", "collections.Counter"):
            return self._new("dict", a)
        if name == "builtins.set":
            return self._new("set", a)
        if name == "torch.Size":
            return self._new("tuple", a[0].items if a and type(a[0]) is Container else [])
        if name in _LEAF_CALLS:
            if any(type(x) is Container or (name == "builtins.bytearray" and isinstance(x, int)) for x in a):
                raise _before(Message("The file calls {name} with arguments no model file needs (such as the size "
                                      "of an empty buffer to allocate).", name=name))
            return _Value()
        what = (Message(_NOT_READ[name]) if name in _NOT_READ else
                Message("an object made by {name} from numbers in the pickle (not stored data)", name=name))
        raise _before(Message("The file holds {what}, which this app does not read: save plain tensors (a module's "
                              "state_dict).", what=what))

    def _newobj(self, cls, args):
        name = cls.name if type(cls) is _Global else ""
        items = args.items if type(args) is Container and args.kind == "tuple" else None
        if items is None:
            raise Damaged("an object's arguments are not a tuple")
        if name == "torch.nn.parameter.Parameter":
            if not items or type(items[0]) is not _Tensor:
                raise Damaged("a parameter without a tensor")
            return items[0]
        if name in ("collections.OrderedDict", "collections.Counter"):
            return Container("dict")
        if name == "builtins.set":
            return Container("set")
        if name == "torch.Size":
            return self._new("tuple", items[0].items if items and type(items[0]) is Container else [])
        what = Message(_NOT_READ[name]) if name in _NOT_READ else Message("a {name} object", name=clip(name, 80))
        raise _before(Message("The file creates {what} directly, which this app does not read: save plain tensors "
                              "(a module's state_dict).", what=what))

    # ----- storages and tensors
    def _storage(self, pid) -> _Storage:
        if type(pid) is not Container or pid.kind != "tuple":
            raise Damaged("a storage reference is not a tuple")
        items = pid.items
        legacy = self.records is None
        if len(items) != (6 if legacy else 5) or items[0] != "storage":
            raise Damaged("a storage reference is malformed")
        storage_type, key, numel = items[1], items[2], items[4]
        if type(storage_type) is not _Global or storage_type.name not in self.storage_types:
            raise _before(Message("The file holds a kind of storage this app does not read (quantized or untyped)."))
        dtype = self.storage_types[storage_type.name]
        if dtype not in READABLE_DTYPES:
            raise _before(Message("The file holds {dtype} tensors, which this app does not read.",
                                  dtype=dtype_name(dtype)))
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise Damaged("a storage reference is malformed")
        nbytes = numel * dtype.itemsize
        if nbytes > self.limits.unpacked:
            shown, most = sizes(nbytes, self.limits.unpacked)
            raise _before(Message("A storage of the file claims {n:,} numbers ({size}); the most this app reads is "
                                  "{most}.", n=numel, size=shown, most=most))
        if self.storages.setdefault(key, (dtype, numel)) != (dtype, numel):
            raise Damaged("a storage is declared twice with different sizes")
        if not legacy and self.records.get(key) != nbytes:
            raise Damaged("a storage's stored size differs from its declared size")
        if legacy:
            if key not in self.stored:
                self.stored[key] = nbytes
                self.stored_bytes += nbytes
            if self.stored_bytes > self.limits.unpacked:
                shown, most = sizes(self.stored_bytes, self.limits.unpacked)
                raise _before(Message("The file's storages claim {size}; the most this app reads is {most}.",
                                      size=shown, most=most))
            view = items[5]
            if view is not None:   # (view key, offset, size): part of the storage
                parts = view.items if type(view) is Container else []
                if (len(parts) != 3 or not all(isinstance(p, int) and p >= 0 for p in parts[1:])
                        or parts[1] + parts[2] > numel):
                    raise Damaged("a storage view is malformed")
                numel = parts[2]
        return _Storage(dtype, numel)

    def _tensor(self, name: str, a: list, near: str | None) -> _Tensor:
        lim = self.limits
        what = Message("The tensor {name}", name=quote(near)) if near else Message("A tensor of the file")
        if len(a) < _REBUILD_TENSOR[name] or type(a[0]) is not _Storage:
            raise Damaged("a tensor's description is malformed")
        storage, offset, size, stride = a[0], a[1], a[2], a[3]
        size = size.items if type(size) is Container and size.kind == "tuple" else None
        stride = stride.items if type(stride) is Container and stride.kind == "tuple" else None
        if (size is None or stride is None or len(size) != len(stride) or not isinstance(offset, int) or offset < 0
                or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (*size, *stride))):
            raise _before(Message("{tensor} has a malformed shape, stride or offset: the file is damaged or crafted.",
                                  tensor=what))
        if len(size) > MAX_DIMS:
            raise _before(Message("{tensor} has {n} dimensions; this app reads at most {most}.", tensor=what,
                                  n=len(size), most=MAX_DIMS))
        dtype, available = storage.dtype, storage.numel
        if name == "torch._utils._rebuild_tensor_v3":   # the dtype is given; the storage counts bytes
            dtype = self.dtypes.get(a[6].name) if type(a[6]) is _Global else None
            if dtype is None:
                raise _before(Message("{tensor} has a dtype this app does not read.", tensor=what))
            available = storage.numel * storage.dtype.itemsize // dtype.itemsize
        count = math.prod(size)
        shape = shape_text(size)
        if count:
            if offset + sum((n - 1) * s for n, s in zip(size, stride)) >= available:
                raise _before(Message("{tensor} (shape {shape}) reaches past the end of its storage of {n:,} "
                                      "numbers: the file is damaged or crafted.", tensor=what, shape=shape,
                                      n=available))
            if count > available:
                how = (Message("repeats stored numbers (a stride of 0)")
                       if any(s == 0 and n > 1 for n, s in zip(size, stride))
                       else Message("uses stored numbers more than once (overlapping strides)"))
                raise _before(Message("{tensor} has shape {shape}, {n:,} numbers, but its storage holds only "
                                      "{stored:,}: it is a view that {how}, which would take {size} to unpack.",
                                      tensor=what, shape=shape, n=count, stored=available, how=how,
                                      size=size_text(count * dtype.itemsize)))
        if count > lim.tensor_elements:
            raise _before(Message("{tensor} has shape {shape}, {n:,} numbers; the largest tensor this app reads has "
                                  "{most:,}.", tensor=what, shape=shape, n=count, most=lim.tensor_elements))
        self.tensors += 1
        self.elements += count
        if self.elements > lim.total_elements:
            raise _before(Message("The file's tensors hold more than {most:,} numbers in all, the most this app "
                                  "reads.", most=lim.total_elements))
        return _Tensor()

