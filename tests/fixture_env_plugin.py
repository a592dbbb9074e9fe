"""A plugin given as a plain module, for PXCORE_PLUGINS=fixture_env_plugin."""

import pxcore


@pxcore.hookimpl
def px_register_backbones(registry):
    registry.add(name="EnvNet", factory="fixture_nets:FixtureNet")
