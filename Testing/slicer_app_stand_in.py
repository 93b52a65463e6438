"""STAND-IN for the parts of the 3D Slicer application that cannot be installed here (PythonQt, CTK, qMRML widgets).

It lets headless tests drive the real ParomaWatermarkWidget class and the real .ui file under Qt for Python (PySide6,
offscreen), with a real MRML scene and real volume nodes from the slicer-core wheel. It provides only:

- `qt`: PySide6's classes, where the few used by the module read their Qt properties as attributes, as PythonQt does
  (`lineEdit.text`, `dialog.wasCanceled`, `button.enabled`);
- `ctk`: ctkCollapsibleButton and ctkPathLineEdit;
- qMRMLNodeComboBox, a combo box over the scene's nodes;
- `slicer.app`, `slicer.mrmlScene`, `slicer.util.loadUI` / `childWidgetVariables` / `mainWindow` / `errorDisplay`
  (errors are recorded instead of shown);
- `slicer.ScriptedLoadableModule`: the module, widget, logic and test base classes.

Everything else (MRML, slicer.util's array functions, tryWithErrorDisplay, VTKObservationMixin) is the real slicer-core.
"""

from __future__ import annotations

import logging
import os
import sys
import types
import unittest
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402
from PySide6.QtCore import Property, Signal  # noqa: E402
from PySide6.QtUiTools import QUiLoader  # noqa: E402

MODULE_FOLDER = Path(__file__).resolve().parents[1] / "ParomaWatermark"


class QLineEdit(QtWidgets.QLineEdit):
    text = property(QtWidgets.QLineEdit.text)


class QLabel(QtWidgets.QLabel):
    text = property(QtWidgets.QLabel.text)


class QPushButton(QtWidgets.QPushButton):
    text = property(QtWidgets.QPushButton.text)
    enabled = property(QtWidgets.QPushButton.isEnabled)
    toolTip = property(QtWidgets.QPushButton.toolTip)


class QProgressDialog(QtWidgets.QProgressDialog):
    wasCanceled = property(QtWidgets.QProgressDialog.wasCanceled)


class ctkCollapsibleButton(QtWidgets.QGroupBox):
    def _get_text(self) -> str:
        return self.title()

    def _set_text(self, value: str) -> None:
        self.setTitle(value)

    def _get_collapsed(self) -> bool:
        return not self.isChecked() if self.isCheckable() else False

    def _set_collapsed(self, value: bool) -> None:
        self.setCheckable(True)
        self.setChecked(not value)

    text = Property(str, _get_text, _set_text)
    collapsed = Property(bool, _get_collapsed, _set_collapsed)


class ctkPathLineEdit(QtWidgets.QLineEdit):
    currentPathChanged = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.editingFinished.connect(lambda: self.currentPathChanged.emit(QtWidgets.QLineEdit.text(self)))

    @property
    def currentPath(self) -> str:
        return QtWidgets.QLineEdit.text(self)

    def setCurrentPath(self, path: str) -> None:
        self.setText(path)
        self.currentPathChanged.emit(path)

    def connect(self, signature: str, slot) -> None:
        {"currentPathChanged(QString)": self.currentPathChanged}[signature].connect(slot)


class qMRMLNodeComboBox(QtWidgets.QComboBox):
    """The scene's nodes of the chosen types, and 'None' when allowed."""

    currentNodeChanged = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._scene, self._types, self._observers = None, [], []
        self._none, self._add, self._remove, self._rename, self._children = False, False, False, False, True
        self._none_display = "None"
        self.currentIndexChanged.connect(lambda _: self.currentNodeChanged.emit(self.currentNode()))

    def _flag(name):
        return Property(bool, lambda self: getattr(self, name), lambda self, value: setattr(self, name, value))

    noneEnabled = _flag("_none")
    addEnabled = _flag("_add")
    removeEnabled = _flag("_remove")
    renameEnabled = _flag("_rename")
    showChildNodeTypes = _flag("_children")
    nodeTypes = Property("QStringList", lambda self: self._types, lambda self, value: setattr(self, "_types", list(value)))
    noneDisplay = Property(str, lambda self: self._none_display, lambda self, value: setattr(self, "_none_display", value))
    del _flag

    def setMRMLScene(self, scene) -> None:
        for observer in self._observers:
            self._scene.RemoveObserver(observer)
        self._scene = scene
        self._observers = [scene.AddObserver(event, lambda *_: self._refresh()) for event in (scene.NodeAddedEvent, scene.NodeRemovedEvent)]
        self._refresh()

    def _accepts(self, node) -> bool:
        if self._children:
            return any(node.IsA(t) for t in self._types)
        return node.GetClassName() in self._types

    def _refresh(self) -> None:
        current = self.currentNode()
        self.blockSignals(True)
        self.clear()
        if self._none:
            self.addItem(self._none_display, None)
        for index in range(self._scene.GetNumberOfNodes()):
            node = self._scene.GetNthNode(index)
            if self._accepts(node):
                self.addItem(node.GetName(), node.GetID())
        self.blockSignals(False)
        self.setCurrentNode(current if current is not None and self._scene.IsNodePresent(current) else None)

    def currentNode(self):
        node_id = self.currentData()
        return self._scene.GetNodeByID(node_id) if (self._scene is not None and node_id) else None

    @property
    def currentNodeID(self) -> str | None:
        return self.currentData()

    def setCurrentNode(self, node) -> None:
        index = self.findData(node.GetID()) if node is not None else (0 if self._none else -1)
        if index < 0 and node is None and self.count():
            index = -1
        self.setCurrentIndex(index)

    def connect(self, signature: str, slot) -> None:
        {"currentNodeChanged(vtkMRMLNode*)": self.currentNodeChanged}[signature].connect(slot)


_STAND_INS = {
    "QLineEdit": QLineEdit,
    "QLabel": QLabel,
    "QPushButton": QPushButton,
    "ctkCollapsibleButton": ctkCollapsibleButton,
    "ctkPathLineEdit": ctkPathLineEdit,
    "qMRMLNodeComboBox": qMRMLNodeComboBox,
}


class _Loader(QUiLoader):
    def createWidget(self, class_name, parent=None, name=""):
        if class_name in _STAND_INS:
            widget = _STAND_INS[class_name](parent)
            widget.setObjectName(name)
            return widget
        return super().createWidget(class_name, parent, name)


class StandIn:
    """The installed stand-in: the application object, the scene, and the errors shown to the user."""

    def __init__(self, settings_folder: Path) -> None:
        import slicer
        import slicer.util

        self.application = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
        self.errors: list[str] = []
        self.scene = slicer.vtkMRMLScene()
        self.settings_folder = settings_folder
        self._install_modules()
        slicer.app = _Application(self.application, settings_folder)
        slicer.mrmlScene = self.scene
        slicer.util.loadUI = _load_ui
        slicer.util.childWidgetVariables = _child_widget_variables
        slicer.util.mainWindow = lambda: None
        slicer.util.errorDisplay = lambda text, *args, **kwargs: self.errors.append(text)
        slicer.ScriptedLoadableModule = sys.modules["slicer.ScriptedLoadableModule"]
        if str(MODULE_FOLDER) not in sys.path:
            sys.path.insert(0, str(MODULE_FOLDER))

    def _install_modules(self) -> None:
        qt = types.ModuleType("qt")
        for module in (QtCore, QtGui, QtWidgets):
            qt.__dict__.update({k: v for k, v in vars(module).items() if not k.startswith("_")})
        qt.QUiLoader = _Loader
        qt.QLineEdit, qt.QLabel, qt.QPushButton, qt.QProgressDialog = QLineEdit, QLabel, QPushButton, QProgressDialog
        ctk = types.ModuleType("ctk")
        ctk.ctkCollapsibleButton, ctk.ctkPathLineEdit = ctkCollapsibleButton, ctkPathLineEdit
        scripted = types.ModuleType("slicer.ScriptedLoadableModule")
        for cls in (ScriptedLoadableModule, ScriptedLoadableModuleWidget, ScriptedLoadableModuleLogic, ScriptedLoadableModuleTest):
            setattr(scripted, cls.__name__, cls)
        sys.modules.update({"qt": qt, "ctk": ctk, "slicer.ScriptedLoadableModule": scripted})

    def module(self):
        """The module file, imported as Slicer would (freshly, so it sees this stand-in)."""
        sys.modules.pop("ParomaWatermark", None)
        import ParomaWatermark

        return ParomaWatermark


class _Application:
    """slicer.app: the settings folder, events, the wait cursor, and testing mode off (errors reach errorDisplay)."""

    def __init__(self, application: QtWidgets.QApplication, settings_folder: Path) -> None:
        self._application = application
        self.slicerUserSettingsFilePath = str(settings_folder / "Slicer.ini")

    def processEvents(self) -> None:
        self._application.processEvents()

    def testingEnabled(self) -> bool:
        return False

    def setOverrideCursor(self, cursor) -> None:
        self._application.setOverrideCursor(cursor)

    def restoreOverrideCursor(self) -> None:
        self._application.restoreOverrideCursor()


def _load_ui(path: str):
    widget = _Loader().load(str(path))
    if widget is None:
        raise RuntimeError(f"Could not load UI file: {path}")
    return widget


def _child_widget_variables(widget):
    ui = types.SimpleNamespace()
    for child in widget.findChildren(QtCore.QObject):
        if child.objectName():
            setattr(ui, child.objectName(), child)
    return ui


class ScriptedLoadableModule:
    def __init__(self, parent):
        self.parent = parent


class ScriptedLoadableModuleWidget:
    def __init__(self, parent=None):
        self.parent = parent if parent is not None else QtWidgets.QWidget()
        self.parent.isEntered = True
        self.layout = self.parent.layout() or QtWidgets.QVBoxLayout(self.parent)
        self.moduleName = type(self).__name__[: -len("Widget")]

    def resourcePath(self, filename: str) -> str:
        return str(Path(sys.modules[type(self).__module__].__file__).parent / "Resources" / filename)

    def setup(self) -> None:
        pass


class ScriptedLoadableModuleLogic:
    def __init__(self, parent=None):
        self.moduleName = type(self).__name__[: -len("Logic")]

    def getParameterNode(self):
        import slicer

        node = slicer.mrmlScene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
        if node is None:
            node = slicer.mrmlScene.CreateNodeByClass("vtkMRMLScriptedModuleNode")
            node.UnRegister(None)
            node.SetSingletonTag(self.moduleName)
            node.SetModuleName(self.moduleName)
            node = slicer.mrmlScene.AddNode(node)
        return node


class ScriptedLoadableModuleTest(unittest.TestCase):
    def delayDisplay(self, message: str, msec: int = 1000) -> None:
        logging.info(message)
