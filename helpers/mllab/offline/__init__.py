"""The offline data plane: what AWS would run, run here for real.

Every module and package under here registers handlers with
:func:`mllab.offline.registry.handles` at import; :func:`mllab.backends.offline.load_plugins`
imports them all when the first offline lab opens. Keep module-level imports light
(import heavy libraries inside handlers) so that opening a lab stays fast.
"""
