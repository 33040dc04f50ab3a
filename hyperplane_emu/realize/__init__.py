"""Layer 3: realize a plan in the kernel. The only layer that calls netlink."""

from hyperplane_emu.realize.kernel import Kernel, KernelDoor, KernelError
from hyperplane_emu.realize.network import namespaces, realize, undo

__all__ = ["Kernel", "KernelDoor", "KernelError", "namespaces", "realize", "undo"]
