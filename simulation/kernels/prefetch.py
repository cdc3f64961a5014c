"""Software prefetch: ask memory for an array element before it is read.

A tick visits the clones in slot order, and a clone's agent row is wherever
its agent is: a mutant takes whichever slot was freed last, so consecutive
slots almost never share an agent (in a world of 10^5 agents, 145 909
changes of agent in 145 928 live clones). Each clone then reads (draws) or
updates (reductions) a handful of agent columns at a row the hardware
cannot predict, and with 10^5 agents and more those rows are beyond the
caches. Slot ``i + AHEAD``'s agent is known at slot ``i``
(``Clones.agent`` is read in order), so its rows are requested then
(``llvm.prefetch``: a hint, never a fault, no effect on any value) and
arrive while the clones in between are drawn: ``birth_death.draw_events``
at 10^6 agents, 156 -> 129 ns a clone. (The reductions,
``clones.free_and_reduce``, add into the agent rows: their stores do not
hold the loop up, and prefetching them measured no faster.)

Keeping the slots in agent order instead would make these reads sequential,
but slot order is the order of the draws: it would change every seeded
result.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: Slots ahead whose agent rows are requested (4 to 24 measured alike on the
#: flagship world of 10^5 agents: 142 -> 119-124 ns a clone in draw_events).
AHEAD = 16


@intrinsic
def prefetch(typingctx, array, index):
    """Request ``array[index]`` (a 2-D array: the start of row ``index``)
    into the caches, for reading (``llvm.prefetch``, high temporal
    locality); returns nothing and reads nothing, so an index past the data
    is harmless (a hint is never a fault)."""
    sig = types.void(array, index)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        where = [args[1]] + [zero] * (aryty.ndim - 1)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, where,
                                       wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # read (0), high temporal locality (3), data cache (1)
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen
