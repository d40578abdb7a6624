"""The optional native fast lane of ``netsec decrypt -w`` (issue #22; everything else is in
pyproject.toml).  ``optional=True``: on a machine without a C compiler or OpenSSL's headers
(Debian: libssl-dev) the build is skipped with a warning and the pure-Python path is used."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "netsec_layers.session._fastlane",
            ["netsec_layers/session/_fastlane.c"],
            libraries=["crypto"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
            optional=True,
        )
    ]
)
