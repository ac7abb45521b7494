"""Running work on many hosts: the parallel executor and the ``itref run`` capability."""
