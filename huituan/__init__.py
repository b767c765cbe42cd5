"""惠团 huituan: the composition root.

``huituan.app`` builds the one process (mini-program API, admin API, bot callback, sandbox,
metrics, scheduler) and ``huituan.cli`` is the ``huituan`` command. Every other package is
installed beneath this one (``huituan.core``, ``huituan.models``, ``huituan.services``, ...)
while its folder stays at the top of the repository; see docs/ARCHITECTURE.md.
"""
