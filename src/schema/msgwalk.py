"""Where one msgpack value ends and how deep it nests, without decoding it.

The reader decodes a frame's payload with msgpack's C unpacker first. Only
when that fails (a record with invalid UTF-8, a map keyed by an array, nesting
beyond the unpacker's own stack) does it fall back to walking the payload with
`value_end`, record by record, so that one malformed record costs its own seq
and not its neighbours' (docs/FORMAT.md, "Records"). If even the walk fails
(a byte that is no msgpack type, a value cut short) the record boundaries are
lost and the whole frame is corrupt.

Iterative, so a value nested 100,000 deep costs a loop, not the C or Python
stack: the stack holds only containers that still have items to come (a
container that is the last item of its parent replaces it), so memory stays
small too. Type bytes per the msgpack spec (github.com/msgpack/msgpack/spec.md).
"""

from __future__ import annotations

# Fixed-size values: type byte -> bytes after it.
_FIXED = {0xC0: 0, 0xC2: 0, 0xC3: 0, 0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,
          0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8,
          0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17}  # fixext: type byte + data
# Values with a length prefix: type byte -> (bytes of length, extra bytes after it).
_SIZED = {0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0),  # bin
          0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1),  # ext: + its type byte
          0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0)}  # str
# Containers with a count prefix: type byte -> (bytes of count, items per count).
_CONTAINERS = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}


def value_end(buf: bytes, pos: int) -> tuple[int, int]:
    """(end offset, nesting depth) of the msgpack value at ``buf[pos]``.

    Depth counts the arrays and maps on the deepest path, the outermost one
    included: ``1`` is 0 deep, ``[1]`` 1, ``[{"a": []}]`` 3. Raises ValueError
    when the bytes are not one complete msgpack value.
    """
    end = len(buf)
    todo: list[list[int]] = []  # [items still to read, depth of that container]
    depth = 0
    level = 0  # depth of the container the next item belongs to
    while True:
        if pos >= end:
            raise ValueError("msgpack value cut short")
        b = buf[pos]
        pos += 1
        items = -1
        if b <= 0x7F or b >= 0xE0:  # positive / negative fixint
            pass
        elif b <= 0x8F:
            items = 2 * (b & 0x0F)
        elif b <= 0x9F:
            items = b & 0x0F
        elif b <= 0xBF:
            pos += b & 0x1F
        elif b in _FIXED:
            pos += _FIXED[b]
        elif b in _SIZED:
            width, extra = _SIZED[b]
            pos += width + extra + int.from_bytes(buf[pos:pos + width], "big")
        elif b in _CONTAINERS:
            width, per = _CONTAINERS[b]
            items = per * int.from_bytes(buf[pos:pos + width], "big")
            pos += width
        else:  # 0xC1: never used
            raise ValueError(f"byte 0x{b:02x} at offset {pos - 1} is not a msgpack type")
        if items >= 0:  # a container: its items come next, one level down
            child = level + 1
            depth = max(depth, child)
            if todo and todo[-1][0] == 0:
                todo[-1] = [items, child]  # the parent has nothing left after it
            else:
                todo.append([items, child])
        # Close every container whose items are all read.
        while todo and todo[-1][0] == 0:
            todo.pop()
        if not todo:
            if pos > end:
                raise ValueError("msgpack value cut short")
            return pos, depth
        todo[-1][0] -= 1
        level = todo[-1][1]
