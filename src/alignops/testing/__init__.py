"""Test aids that are part of the package: real servers on loopback that capture what
they are sent, for the tests and for the demo (``alignops.testing.http_capture``,
``alignops.testing.smtp_capture``). Import the module you need; this package imports
nothing on its own, so using one aid does not require the others' dependencies."""
