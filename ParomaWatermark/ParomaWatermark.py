"""Paroma Watermark: the 3D Slicer module (Module, Widget, Logic, Test).

The panel only moves values between its widgets (Resources/UI/ParomaWatermark.ui), a parameter node and the logic;
all the work is done by the pure-Python library ParomaWatermarkLib, which the Python console can use directly.
"""

import logging
import os
import tempfile
import unittest

import numpy as np
import qt
import slicer
import vtk
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from ParomaWatermarkLib import ParomaError
from ParomaWatermarkLib import ParomaWatermarkLogic as LibraryLogic

DOCUMENTATION_URL = "https://github.com/paroma-med/SlicerParomaWatermark#readme"


#
# ParomaWatermark
#


class ParomaWatermark(ScriptedLoadableModule):
    """The module's description for Slicer's module list."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "Paroma Watermark"
        self.parent.categories = ["Utilities"]
        self.parent.dependencies = []
        self.parent.contributors = [
            "ParomaWatermark contributors (PAROMA-MED)",
            "Reda Bellafqira, Gouenou Coatrieux, Chloé Berton (IMT Atlantique, Inserm UMR 1101 LaTIM): the scheme",
        ]
        self.parent.helpText = f"""
Watermark each copy of a CT or MR volume for the data scientist who receives it, reversibly and slice by slice, and
record it in a hash-chained ledger. When a copy turns up where it should not, <b>Check for leaks</b> names whose copy
it is; <b>Restore original</b> removes the watermark and gives back the original voxels bit for bit.
See the <a href="{DOCUMENTATION_URL}">documentation</a>.
"""
        self.parent.acknowledgementText = """
The watermarking scheme and its use case come from the PAROMA-MED project (IMT Atlantique, Inserm UMR 1101 LaTIM),
funded by the European Union under Grant Agreement 101070222. Views and opinions expressed are those of the authors
only and do not necessarily reflect those of the European Union or the European Commission.
"""


#
# ParomaWatermarkWidget
#


class ParomaWatermarkWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """The panel: moves values between the widgets, the parameter node and the logic."""

    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._updatingGUIFromParameterNode = False

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/ParomaWatermark.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        self.logic = ParomaWatermarkLogic()

        self.selectors = {
            "InputVolume": self.ui.inputSelector,
            "OutputVolume": self.ui.outputSelector,
            "CheckVolume": self.ui.checkSelector,
            "RestoreInputVolume": self.ui.restoreInputSelector,
            "RestoreOutputVolume": self.ui.restoreOutputSelector,
        }
        self.lineEdits = {
            "ParomaID": self.ui.paromaIdLineEdit,
            "Recipient": self.ui.recipientLineEdit,
            "ServerURL": self.ui.serverUrlLineEdit,
        }
        for selector in self.selectors.values():
            selector.setMRMLScene(slicer.mrmlScene)
            selector.connect("currentNodeChanged(vtkMRMLNode*)", self.updateParameterNodeFromGUI)
        for lineEdit in self.lineEdits.values():
            lineEdit.textChanged.connect(self.updateParameterNodeFromGUI)
        self.ui.ledgerPathLineEdit.connect("currentPathChanged(QString)", self.onLedgerPathChanged)
        self.ui.tokenLineEdit.textChanged.connect(self.logic.setToken)

        self.ui.verifyButton.clicked.connect(self.onVerifyButton)
        self.ui.applyButton.clicked.connect(self.onApplyButton)
        self.ui.checkButton.clicked.connect(self.onCheckButton)
        self.ui.restoreButton.clicked.connect(self.onRestoreButton)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.initializeParameterNode()

    def cleanup(self):
        self.removeObservers()

    def enter(self):
        self.initializeParameterNode()

    def exit(self):
        self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGUIFromParameterNode)

    def onSceneStartClose(self, caller, event):
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event):
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self):
        """Use the module's parameter node, with a ledger path and an input volume chosen if none are yet."""
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.GetParameter("LedgerPath"):
            self._parameterNode.SetParameter("LedgerPath", self.logic.defaultLedgerPath())
        if not self._parameterNode.GetNodeReference("InputVolume"):
            firstVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if firstVolume and not firstVolume.IsA("vtkMRMLLabelMapVolumeNode"):
                self._parameterNode.SetNodeReferenceID("InputVolume", firstVolume.GetID())

    def setParameterNode(self, inputParameterNode):
        if inputParameterNode is self._parameterNode:
            self.updateGUIFromParameterNode()
            return
        if self._parameterNode is not None:
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGUIFromParameterNode)
        self._parameterNode = inputParameterNode
        if self._parameterNode is not None:
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGUIFromParameterNode)
        self.updateGUIFromParameterNode()

    def updateGUIFromParameterNode(self, caller=None, event=None):
        """Show the parameter node's values, and enable each action only when its inputs are valid."""
        if self._parameterNode is None or self._updatingGUIFromParameterNode:
            return
        self._updatingGUIFromParameterNode = True
        try:
            for reference, selector in self.selectors.items():
                selector.setCurrentNode(self._parameterNode.GetNodeReference(reference))
            for parameter, lineEdit in self.lineEdits.items():
                if lineEdit.text != self._parameterNode.GetParameter(parameter):
                    lineEdit.setText(self._parameterNode.GetParameter(parameter))
            ledgerPath = self._parameterNode.GetParameter("LedgerPath")
            if self.ui.ledgerPathLineEdit.currentPath != ledgerPath:
                self.ui.ledgerPathLineEdit.setCurrentPath(ledgerPath)
            self._enable(self.ui.verifyButton, self._missing(ledger=True), "Verify every block's hash and link")
            self._enable(self.ui.applyButton, self._missing(ledger=True, volume="InputVolume", ids=True),
                         "Watermark the input volume for the data scientist and record it in the ledger")
            self._enable(self.ui.checkButton, self._missing(ledger=True, volume="CheckVolume"),
                         "Look the volume up in the ledger and read its watermark")
            self._enable(self.ui.restoreButton, self._missing(ledger=True, volume="RestoreInputVolume"),
                         "Remove the watermark and check the result against the original's recorded hash")
        finally:
            self._updatingGUIFromParameterNode = False

    def updateParameterNodeFromGUI(self, caller=None, event=None):
        """Keep the panel's choices in the parameter node, so they survive saving and reloading the scene."""
        if self._parameterNode is None or self._updatingGUIFromParameterNode:
            return
        wasModified = self._parameterNode.StartModify()
        for reference, selector in self.selectors.items():
            self._parameterNode.SetNodeReferenceID(reference, selector.currentNodeID)
        for parameter, lineEdit in self.lineEdits.items():
            self._parameterNode.SetParameter(parameter, lineEdit.text.strip())
        self._parameterNode.EndModify(wasModified)

    def onLedgerPathChanged(self, path):
        if self._parameterNode is not None and not self._updatingGUIFromParameterNode:
            self._parameterNode.SetParameter("LedgerPath", path)
        self.ui.ledgerStatus.setText(self.logic.ledgerStatus() if path else "")

    def _missing(self, ledger=False, volume=None, ids=False):
        """What an action still needs, in words; empty when it can run."""
        missing = []
        parameters = self._parameterNode
        if ledger and not (parameters.GetParameter("LedgerPath") or parameters.GetParameter("ServerURL")):
            missing.append("a ledger file or server")
        if volume and not self._parameterNode.GetNodeReference(volume):
            missing.append("a volume")
        if ids:
            for parameter, name in (("ParomaID", "a PAROMA ID"), ("Recipient", "a data scientist ID")):
                value = self._parameterNode.GetParameter(parameter)
                if not value:
                    missing.append(name)
                elif "|" in value:
                    missing.append(f"{name} without '|'")
        return missing

    @staticmethod
    def _enable(button, missing, readyToolTip):
        button.setEnabled(not missing)
        button.setToolTip(readyToolTip if not missing else "Choose " + ", ".join(missing))

    def onVerifyButton(self):
        with _ReportedErrors("Verifying the ledger failed."):
            report = self.logic.verify_ledger()
            self.ui.ledgerStatus.setText(self.logic.ledgerStatus() + "\n" + report.summary())

    def onApplyButton(self):
        parameters = self._parameterNode
        with _ReportedErrors("Watermarking failed."), _ProgressDialog("Watermarking...") as progress:
            marked, record = self.logic.watermark(
                parameters.GetNodeReference("InputVolume"),
                paroma_id=parameters.GetParameter("ParomaID"),
                recipient=parameters.GetParameter("Recipient"),
                output=parameters.GetNodeReference("OutputVolume"),
                progress=progress,
            )
            parameters.SetNodeReferenceID("OutputVolume", marked.GetID())
            summary = record.embed_summary
            self.ui.watermarkResultLabel.setText(
                f"{marked.GetName()}: ledger block {record.index}\n"
                f"{summary['carriers']} carrier blocks, {summary['distinct_bits']} of 256 watermark bits embedded, "
                f"{summary['voxels_changed']} voxels changed (largest change {summary['max_change']}), "
                f"PSNR {float(summary['psnr_db']):.1f} dB"
            )
            self.ui.ledgerStatus.setText(self.logic.ledgerStatus())

    def onCheckButton(self):
        with _ReportedErrors("The leak check failed."), _ProgressDialog("Checking for a watermark...") as progress:
            finding = self.logic.check(self._parameterNode.GetNodeReference("CheckVolume"), progress=progress)
            text = finding.summary()
            if finding.detected:
                text += f"\nFound by {finding.method} in {len(finding.slices)} slice(s) of the volume."
            self.ui.checkResultLabel.setText(text)
            self.ui.ledgerStatus.setText(self.logic.ledgerStatus())

    def onRestoreButton(self):
        parameters = self._parameterNode
        with _ReportedErrors("Restoring the original failed."), _ProgressDialog("Restoring...") as progress:
            restored = self.logic.restore(
                parameters.GetNodeReference("RestoreInputVolume"),
                output=parameters.GetNodeReference("RestoreOutputVolume"),
                progress=progress,
            )
            parameters.SetNodeReferenceID("RestoreOutputVolume", restored.GetID())
            self.ui.restoreResultLabel.setText(
                f"{restored.GetName()}: the original voxels, bit for bit; they match the original's hash in the ledger."
            )
            self.ui.ledgerStatus.setText(self.logic.ledgerStatus())



class _ReportedErrors:
    """Shows an error to the user (slicer.util.tryWithErrorDisplay); expected errors stop there, bugs go on."""

    def __init__(self, message):
        self._context = slicer.util.tryWithErrorDisplay(message, waitCursor=True)

    def __enter__(self):
        return self._context.__enter__()

    def __exit__(self, kind, error, trace):
        try:
            return self._context.__exit__(kind, error, trace)
        except ParomaError:
            return True


class _ProgressDialog:
    """A progress dialog that can cancel: the logic's progress callback updates it and asks it whether to go on."""

    def __init__(self, label):
        self._label, self._dialog = label, None

    def __enter__(self):
        self._dialog = qt.QProgressDialog(self._label, "Cancel", 0, 100, slicer.util.mainWindow())
        self._dialog.setWindowTitle("Paroma Watermark")
        self._dialog.setMinimumDuration(500)
        return self.report

    def report(self, done, total):
        self._dialog.setValue(int(100 * done / max(1, total)))
        slicer.app.processEvents()
        return not self._dialog.wasCanceled

    def __exit__(self, *exc_info):
        self._dialog.close()
        return False


#
# ParomaWatermarkLogic
#


class ParomaWatermarkLogic(ScriptedLoadableModuleLogic):
    """The Slicer-facing logic: the library's ParomaWatermarkLogic on the ledger chosen in the panel.

    From the console: logic = slicer.util.getModuleLogic("ParomaWatermark"); logic.watermark(node, paroma_id=...,
    recipient=...), logic.check(node), logic.restore(node), logic.verify_ledger(), as in the library.
    """

    def __init__(self):
        ScriptedLoadableModuleLogic.__init__(self)
        self._library = None
        self._token = ""

    def setDefaultParameters(self, parameterNode):
        if not parameterNode.GetParameter("LedgerPath"):
            parameterNode.SetParameter("LedgerPath", self.defaultLedgerPath())

    @staticmethod
    def defaultLedgerPath():
        """ledger.db in a ParomaWatermark folder beside Slicer's user settings."""
        folder = os.path.join(os.path.dirname(slicer.app.slicerUserSettingsFilePath), "ParomaWatermark")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        return os.path.join(folder, "ledger.db")

    def ledgerPath(self):
        """The ledger server's URL if one is set, else the ledger file."""
        parameters = self.getParameterNode()
        server = parameters.GetParameter("ServerURL")
        if server:
            return server.rstrip("/")
        return os.path.abspath(os.path.expanduser(parameters.GetParameter("LedgerPath") or self.defaultLedgerPath()))

    def setToken(self, token):
        """The bearer token for the ledger server: kept in memory only, never in the scene."""
        if token != self._token:
            self._token = token
            self._library = None

    @property
    def library(self):
        """The library's logic on the current ledger (file or server), opened when first needed and when it changes."""
        _ensurePythonPackages()
        location = self.ledgerPath()
        if self._library is None or str(self._library.ledger.path) != location:
            self._library = LibraryLogic(ledger=location, token=self._token or None)
        return self._library

    def ledgerStatus(self):
        """One line about the ledger: how many blocks, and what the last one was."""
        try:
            ledger = self.library.ledger
            last, copies = ledger.last_block(), ledger.watermark_count()
            return (
                f"{len(ledger)} blocks, {copies} watermarked {'copy' if copies == 1 else 'copies'}; "
                f"last: {last.kind} at {last.timestamp[:19]} UTC"
            )
        except ParomaError as error:
            return str(error)

    def watermark(self, volume, paroma_id, recipient, **options):
        return self.library.watermark(volume, paroma_id, recipient, **options)

    def check(self, suspect, **options):
        return self.library.check(suspect, **options)

    def restore(self, marked, **options):
        return self.library.restore(marked, **options)

    def verify_ledger(self):
        return self.library.verify_ledger()


def _ensurePythonPackages():
    """The ledger seals keys with the `cryptography` package, which Slicer's Python may not have yet."""
    try:
        import cryptography  # noqa: F401
    except ImportError:
        slicer.util.pip_install("cryptography")


#
# ParomaWatermarkTest
#


class ParomaWatermarkTest(ScriptedLoadableModuleTest):
    """The module's self test: run it in Slicer from the module's Reload and Test button, or with ctest."""

    def setUp(self):
        slicer.mrmlScene.Clear()
        self.folder = tempfile.mkdtemp(prefix="ParomaWatermarkTest-")

    def runTest(self):
        self.setUp()
        self.test_TwoRecipientsCheckRestoreVerify()

    def test_TwoRecipientsCheckRestoreVerify(self):
        self.delayDisplay("Creating a CT-like volume")
        rng = np.random.default_rng(1)
        z, y, x = np.mgrid[0:12, 0:128, 0:128]
        body = ((y - 64) / 50.0) ** 2 + ((x - 64) / 40.0) ** 2 < 1
        voxels = np.where(body, 40 + rng.normal(0, 6, body.shape), -1000 + rng.normal(0, 2, body.shape))
        original = np.rint(voxels).astype(np.int16)
        volume = slicer.util.addVolumeFromArray(original, name="Test CT")

        logic = ParomaWatermarkLogic()
        logic.getParameterNode().SetParameter("LedgerPath", os.path.join(self.folder, "ledger.db"))

        self.delayDisplay("Watermarking for two data scientists")
        first, firstRecord = logic.watermark(volume, paroma_id="P-TEST", recipient="DS-1")
        second, secondRecord = logic.watermark(volume, paroma_id="P-TEST", recipient="DS-2")
        self.assertEqual(first.GetName(), "Test CT [watermarked: DS-1]")
        self.assertNotEqual(firstRecord.index, secondRecord.index)

        self.delayDisplay("Checking each copy, and a part of one")
        self.assertEqual(logic.check(first).recipient, "DS-1")
        self.assertEqual(logic.check(second).recipient, "DS-2")
        part = slicer.util.addVolumeFromArray(slicer.util.arrayFromVolume(second)[3:7] + 10, name="Leaked part")
        finding = logic.check(part)
        self.assertEqual((finding.method, finding.recipient), ("watermark", "DS-2"))
        self.assertFalse(logic.check(volume).detected)

        self.delayDisplay("Restoring the original")
        restored = logic.restore(first)
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(restored), original)

        self.delayDisplay("Verifying the ledger")
        self.assertTrue(logic.verify_ledger().ok)
        logging.info("ParomaWatermark self test passed")
        self.delayDisplay("Test passed")


if __name__ == "__main__":
    unittest.main()
