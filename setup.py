"""Build hook: the template notebooks ship inside the package.

The notebooks have one source, ``templates/*.ipynb`` at the top of the repository, where people
open and edit them in JupyterLab. A built wheel carries a copy as ``evalkit/templates/`` (package
data), where :func:`evalkit.run.templates.templates_dir` finds them once evalkit is installed
outside the repository; an editable install reads ``templates/`` in place. Everything else about
the package is declared in ``pyproject.toml``. ``tests/test_wheel.py`` builds a wheel and checks
that its notebooks are those of ``templates/``.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "templates"
#: Where the notebooks go inside the built package.
TARGET = ("evalkit", "templates")


class BuildWithTemplates(build_py):
    """``build_py`` that also copies ``templates/*.ipynb`` into ``evalkit/templates/``."""

    def _notebooks(self) -> list[Path]:
        found = sorted(SOURCE.glob("*.ipynb"))
        if not found:
            raise SystemExit(f"no template notebooks in {SOURCE}: the package would ship "
                             "without them (is templates/ in the source distribution?)")
        return found

    def run(self) -> None:
        """Build the package as usual, then copy the notebooks into it."""
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads templates/
            return
        dest = Path(self.build_lib, *TARGET)
        self.mkpath(str(dest))
        for nb in self._notebooks():
            self.copy_file(str(nb), str(dest / nb.name), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        """The built files, the copied notebooks included."""
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            outputs += [str(Path(self.build_lib, *TARGET, nb.name)) for nb in self._notebooks()]
        return outputs


setup(cmdclass={"build_py": BuildWithTemplates})
