"""The four Processing algorithms.  Each turns its parameters into one geoseg command
line and runs it with :func:`.runner.run` in the configured environment; nothing here
computes anything itself."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingOutputNumber,
    QgsProcessingOutputRasterLayer,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
    QgsRasterLayer,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant
from qgis.PyQt.QtGui import QIcon

from . import environment, runner
from .layers import RASTER_SUFFIXES, VECTOR_SUFFIXES, output_file, raster_file, vector_file
from .settings import HERE, python_setting
from .styles import style_on_load

TTA = ["none", "flip", "d4"]
Integer, Double = QgsProcessingParameterNumber.Integer, QgsProcessingParameterNumber.Double


def advanced(param: QgsProcessingParameterDefinition) -> QgsProcessingParameterDefinition:
    param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return param


def threshold_parameter(label: str) -> QgsProcessingParameterNumber:
    """The optional THRESHOLD parameter: a probability in [0, 1]."""
    return QgsProcessingParameterNumber(
        "THRESHOLD", label, Double, None, optional=True, minValue=0.0, maxValue=1.0
    )


class GeosegAlgorithm(QgsProcessingAlgorithm):
    """Common parts: names, help, running geoseg, optional values."""

    NAME = DISPLAY = HELP = ""

    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:  # noqa: N802
        return self.DISPLAY

    def shortHelpString(self) -> str:  # noqa: N802
        return self.HELP

    def icon(self) -> QIcon:
        return QIcon(str(HERE / "icon.svg"))

    def createInstance(self):  # noqa: N802
        return type(self)()

    def geoseg(self, args: list, feedback, outputs=(), partial_ok: bool = False):
        """Run ``geoseg ARGS`` in the configured environment (one clear error otherwise)."""
        try:
            env = environment.resolve(python_setting())
            info = environment.check(env)
            feedback.pushDebugInfo(f"geoseg {info.get('geoseg')} in {env.python} ({env.source})")
            return runner.run(env, args, feedback, outputs, partial_ok=partial_ok)
        except (environment.GeosegUnavailable, runner.RunFailed, runner.RunCanceled) as exc:
            raise QgsProcessingException(str(exc)) from None

    @staticmethod
    def value(parameters: dict, name: str):
        """A parameter's value, None when it was left empty."""
        value = parameters.get(name)
        return None if value is None or (isinstance(value, str) and not value.strip()) else value

    def number_args(self, parameters, context, pairs) -> list[str]:
        """``FLAG VALUE`` for each (flag, parameter name) whose value is set."""
        args = []
        for flag, name in pairs:
            if self.value(parameters, name) is not None:
                args += [
                    flag,
                    str(
                        self.parameterAsDouble(parameters, name, context)
                        if self.parameterDefinition(name).dataType() == Double
                        else self.parameterAsInt(parameters, name, context)
                    ),
                ]
        return args


class ModelParameters:
    """The model and tiling parameters Predict and Map an area share."""

    def add_model_parameters(self) -> None:
        self.addParameter(
            QgsProcessingParameterFile(
                "MODEL",
                "Model (geoseg checkpoint .pt)",
                optional=True,
                fileFilter="geoseg models (*.pt *.onnx);;All files (*.*)",
            )
        )
        self.addParameter(
            QgsProcessingParameterString(
                "BACKBONE",
                "Or: the newest trained model of this backbone (e.g. resnet34)",
                optional=True,
            )
        )
        self.addParameter(
            advanced(
                QgsProcessingParameterString(
                    "ARCH",
                    "Architecture to check or pick (unet, linknet, dlinknet, adlinknet)",
                    optional=True,
                )
            )
        )
        self.addParameter(
            advanced(
                QgsProcessingParameterFile(
                    "MODELS_DIR",
                    "Folder of trained models [default: geoseg's]",
                    behavior=QgsProcessingParameterFile.Folder,
                    optional=True,
                )
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                "TILE", "Tile size (pixels, a multiple of 32)", Integer, 512, minValue=32
            )
        )
        self.addParameter(
            advanced(
                QgsProcessingParameterNumber(
                    "OVERLAP",
                    "Tile overlap (pixels) [default: min(64, tile/4)]",
                    Integer,
                    None,
                    optional=True,
                    minValue=0,
                )
            )
        )
        self.addParameter(
            advanced(
                QgsProcessingParameterNumber(
                    "BATCH_SIZE", "Tiles per forward pass", Integer, 4, minValue=1
                )
            )
        )
        self.addParameter(
            QgsProcessingParameterEnum(
                "TTA",
                "Test-time augmentation",
                options=["none", "4 flips", "8 rotations/flips (d4)"],
                defaultValue=0,
            )
        )
        self.addParameter(
            threshold_parameter("Road threshold (probability) [default: the model's]")
        )
        self.addParameter(
            advanced(
                QgsProcessingParameterString(
                    "DEVICE", "Device (auto, cpu, cuda, cuda:1 ...)", "auto"
                )
            )
        )

    def model_args(self, parameters, context) -> list[str]:
        model = self.value(parameters, "MODEL")
        backbone = self.value(parameters, "BACKBONE")
        if model is None and backbone is None:
            raise QgsProcessingException(
                "give a Model file, or a Backbone whose newest trained model geoseg should use"
            )
        args = []
        if model is not None:
            args += ["--model", os.path.abspath(self.parameterAsFile(parameters, "MODEL", context))]
        for flag, name in (("--backbone", "BACKBONE"), ("--arch", "ARCH")):
            if self.value(parameters, name) is not None:
                args += [flag, self.parameterAsString(parameters, name, context).strip()]
        if self.value(parameters, "MODELS_DIR") is not None:
            args += [
                "--models-dir",
                os.path.abspath(self.parameterAsFile(parameters, "MODELS_DIR", context)),
            ]
        args += ["--tta", TTA[self.parameterAsEnum(parameters, "TTA", context)]]
        args += ["--device", self.parameterAsString(parameters, "DEVICE", context) or "auto"]
        args += self.number_args(
            parameters,
            context,
            [
                ("--tile", "TILE"),
                ("--overlap", "OVERLAP"),
                ("--batch-size", "BATCH_SIZE"),
                ("--threshold", "THRESHOLD"),
            ],
        )
        return args

    def checkParameterValues(self, parameters, context):  # noqa: N802
        if self.value(parameters, "MODEL") is None and self.value(parameters, "BACKBONE") is None:
            return False, "Give a Model file, or a Backbone whose newest trained model to use."
        return super().checkParameterValues(parameters, context)


class PredictRoads(ModelParameters, GeosegAlgorithm):
    NAME, DISPLAY = "predict", "Predict roads"
    HELP = (
        "Predicts roads in a GeoTIFF of any size with a trained geoseg model: a road "
        "probability raster and a road mask on the input's grid (same CRS; nodata stays "
        "nodata) and, unless skipped, the road centerlines (id, node_from, node_to, "
        "length_m, width_m, mean_prob).\n\n"
        "Model: a checkpoint file, or a backbone name to use the newest model trained with "
        "it. Runs `geoseg predict` of the geoseg environment (Processing options > "
        "Providers > geoseg); Cancel stops it and leaves no partial file."
    )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Scene (GeoTIFF)"))
        self.add_model_parameters()
        self.addParameter(
            QgsProcessingParameterString(
                "BANDS", "Bands to read, e.g. 1,2,3 [default: the model's]", optional=True
            )
        )
        self.addParameter(
            advanced(
                QgsProcessingParameterBoolean(
                    "FLOAT", "Probabilities as float32 (default: 0-255)", False
                )
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterDestination("OUTPUT_PROB", "Road probability")
        )
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_MASK", "Road mask"))
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                "OUTPUT_ROADS",
                "Road centerlines",
                QgsProcessing.TypeVectorLine,
                optional=True,
                createByDefault=True,
            )
        )

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        scene = raster_file(self.parameterAsRasterLayer(parameters, "INPUT", context), "Scene")
        prob = output_file(
            self.parameterAsOutputLayer(parameters, "OUTPUT_PROB", context),
            "Road probability",
            RASTER_SUFFIXES,
        )
        mask = output_file(
            self.parameterAsOutputLayer(parameters, "OUTPUT_MASK", context),
            "Road mask",
            RASTER_SUFFIXES,
        )
        roads = (
            self.parameterAsOutputLayer(parameters, "OUTPUT_ROADS", context)
            if self.value(parameters, "OUTPUT_ROADS") is not None
            else ""
        )
        args = [
            "predict",
            scene,
            *self.model_args(parameters, context),
            "-o",
            str(Path(prob).parent),
            "--prob-out",
            prob,
            "--mask-out",
            mask,
        ]
        if self.value(parameters, "BANDS") is not None:
            args += ["--bands", self.parameterAsString(parameters, "BANDS", context).strip()]
        if self.parameterAsBoolean(parameters, "FLOAT", context):
            args.append("--float")
        outputs = [prob, mask]
        if roads:
            roads = output_file(roads, "Road centerlines", VECTOR_SUFFIXES)
            args += ["--vector", roads]
            outputs.append(roads)
        self.geoseg(args, feedback, outputs)
        style_on_load(context, prob, "probability")
        style_on_load(context, mask, "mask")
        style_on_load(context, roads, "roads")
        return {"OUTPUT_PROB": prob, "OUTPUT_MASK": mask, "OUTPUT_ROADS": roads or None}


class VectorizeMask(GeosegAlgorithm):
    NAME, DISPLAY = "vectorize", "Vectorize road mask"
    HELP = (
        "Turns a road mask (0/1 or 0/255 GeoTIFF) into georeferenced road centerlines: "
        "small blobs removed, holes filled, spurs pruned, aligned dead ends bridged. Lines "
        "carry id, node_from and node_to (a routable graph), length_m, width_m and, with a "
        "probability raster, mean_prob. Defaults follow the pixel size."
    )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Road mask"))
        self.addParameter(
            QgsProcessingParameterRasterLayer(
                "PROB", "Road probability on the mask's grid (for mean_prob)", optional=True
            )
        )
        for name, flag, label in (
            ("MIN_BLOB_M2", "--min-blob-m2", "Drop road blobs smaller than (m²)"),
            ("HOLE_M2", "--hole-m2", "Fill holes smaller than (m²)"),
            ("PRUNE_M", "--prune-m", "Remove dead-end spurs shorter than (m)"),
            ("BRIDGE_M", "--bridge-m", "Join aligned dead ends closer than (m)"),
            ("SIMPLIFY_M", "--simplify-m", "Simplification tolerance (m)"),
        ):
            self.addParameter(
                advanced(
                    QgsProcessingParameterNumber(
                        name,
                        f"{label} [default: from the pixel size]",
                        Double,
                        None,
                        optional=True,
                        minValue=0.0,
                    )
                )
            )
        self.addParameter(
            QgsProcessingParameterVectorDestination(
                "OUTPUT", "Road centerlines", QgsProcessing.TypeVectorLine
            )
        )

    OPTIONS = [
        ("--min-blob-m2", "MIN_BLOB_M2"),
        ("--hole-m2", "HOLE_M2"),
        ("--prune-m", "PRUNE_M"),
        ("--bridge-m", "BRIDGE_M"),
        ("--simplify-m", "SIMPLIFY_M"),
    ]

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        mask = raster_file(self.parameterAsRasterLayer(parameters, "INPUT", context), "Road mask")
        out = output_file(
            self.parameterAsOutputLayer(parameters, "OUTPUT", context),
            "Road centerlines",
            VECTOR_SUFFIXES,
        )
        args = ["vectorize", mask, "-o", out]
        if self.value(parameters, "PROB") is not None:
            args += [
                "--prob",
                raster_file(
                    self.parameterAsRasterLayer(parameters, "PROB", context), "Probability"
                ),
            ]
        args += self.number_args(parameters, context, self.OPTIONS)
        self.geoseg(args, feedback, [out])
        style_on_load(context, out, "roads")
        return {"OUTPUT": out}


# evaluate's CSV columns that are text; the others are numbers
TEXT_COLUMNS = ("name", "kind", "pred", "truth", "crs")
METRICS = ("iou", "precision", "recall", "f1", "relaxed_f1", "apls", "junction_f1")


class Evaluate(GeosegAlgorithm):
    NAME, DISPLAY = "evaluate", "Evaluate"
    HELP = (
        "Scores a prediction against the truth. Two rasters (mask or probability vs truth "
        "mask): IoU, precision, recall, F1 and relaxed F1 (a prediction on another grid is "
        "warped onto the truth's). Raster prediction vs truth lines: the lines are "
        "rasterized with their width_m. Two line layers: APLS and junction F1. The table "
        "has one row per pair plus the summary rows."
    )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(
            QgsProcessingParameterMapLayer("PREDICTION", "Prediction (raster, or road lines)")
        )
        self.addParameter(
            QgsProcessingParameterMapLayer("TRUTH", "Truth (road mask raster, or road lines)")
        )
        self.addParameter(
            threshold_parameter(
                "Threshold for a probability prediction [default: non-zero is road]"
            )
        )
        self.addParameter(
            advanced(
                QgsProcessingParameterNumber(
                    "RHO", "Relaxed-metric tolerance (pixels)", Double, 3.0, minValue=0.0
                )
            )
        )
        self.addParameter(
            advanced(
                QgsProcessingParameterNumber(
                    "WIDTH_M",
                    "Road width for lines without width_m (m)",
                    Double,
                    4.0,
                    minValue=0.01,
                )
            )
        )
        self.addParameter(
            advanced(
                QgsProcessingParameterNumber(
                    "SNAP_M", "APLS: snapping distance (m)", Double, 4.0, minValue=0.0
                )
            )
        )
        self.addParameter(
            advanced(
                QgsProcessingParameterNumber(
                    "SPACING_M", "APLS: control point spacing (m)", Double, 50.0, minValue=0.01
                )
            )
        )
        self.addParameter(
            QgsProcessingParameterFeatureSink("OUTPUT", "Scores", QgsProcessing.TypeVector)
        )
        for name in METRICS:
            self.addOutput(QgsProcessingOutputNumber(name.upper(), name))

    def _input(self, parameters, name, what, context, feedback) -> str:
        layer = self.parameterAsLayer(parameters, name, context)
        if isinstance(layer, QgsRasterLayer):
            return raster_file(layer, what)
        if isinstance(layer, QgsVectorLayer):
            return vector_file(layer, what, context, feedback)
        raise QgsProcessingException(f"{what}: give a raster or a line layer")

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        pred = self._input(parameters, "PREDICTION", "Prediction", context, feedback)
        truth = self._input(parameters, "TRUTH", "Truth", context, feedback)
        with tempfile.TemporaryDirectory(prefix="geoseg_eval_") as tmp:
            table = os.path.join(tmp, "scores.csv")
            args = ["evaluate", pred, truth, "--csv", table]
            args += self.number_args(
                parameters,
                context,
                [
                    ("--threshold", "THRESHOLD"),
                    ("--rho", "RHO"),
                    ("--width-m", "WIDTH_M"),
                    ("--snap-m", "SNAP_M"),
                    ("--spacing-m", "SPACING_M"),
                ],
            )
            self.geoseg(args, feedback, [table])
            with open(table, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
        if not rows:
            raise QgsProcessingException("geoseg evaluate wrote no scores")
        fields = QgsFields()
        for column in rows[0]:
            fields.append(
                QgsField(column, QVariant.String if column in TEXT_COLUMNS else QVariant.Double)
            )
        target = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        if target and os.path.isabs(target) and "|" not in target:
            os.makedirs(os.path.dirname(target), exist_ok=True)  # as geoseg does for files
        sink, dest = self.parameterAsSink(
            parameters,
            "OUTPUT",
            context,
            fields,
            QgsWkbTypes.NoGeometry,
            QgsCoordinateReferenceSystem(),
        )
        if sink is None:
            raise QgsProcessingException("cannot create the Scores table")
        for row in rows:
            feature = QgsFeature(fields)
            feature.setAttributes(
                [(row[c] or None) if c in TEXT_COLUMNS else _number(row[c]) for c in rows[0]]
            )
            sink.addFeature(feature, QgsFeatureSink.FastInsert)
        results = {"OUTPUT": dest}
        first = rows[0]
        for name in METRICS:
            results[name.upper()] = _number(first.get(name, ""))
            if results[name.upper()] is not None:
                feedback.pushInfo(f"{name}: {results[name.upper()]:.4f}")
        return results


def _number(text: str):
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


class MapArea(ModelParameters, GeosegAlgorithm):
    NAME, DISPLAY = "batch", "Map an area (batch)"
    HELP = (
        "Maps roads over many scenes into one output folder: per scene a probability, a "
        "mask and road lines (scenes/<name>/), and for the area one merged road layer "
        "(roads.gpkg: no duplicates where scenes overlap, ends joined across scene "
        "borders, clipped to the area of interest) and a mask mosaic (masks.vrt). Scenes "
        "outside the area of interest are skipped. Resumable: run it again with the same "
        "output folder and finished scenes are kept, unless 'Redo every scene' is set."
    )

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                "INPUT", "Scenes (GeoTIFFs)", QgsProcessing.TypeRaster
            )
        )
        self.addParameter(
            QgsProcessingParameterFeatureSource(
                "AOI", "Area of interest", [QgsProcessing.TypeVectorPolygon], optional=True
            )
        )
        self.add_model_parameters()
        self.addParameter(
            advanced(
                QgsProcessingParameterCrs(
                    "CRS",
                    "CRS of the merged outputs [default: the first scene's, or its UTM zone]",
                    optional=True,
                )
            )
        )
        self.addParameter(
            advanced(
                QgsProcessingParameterNumber(
                    "SNAP_M",
                    "Join road ends across scene borders within (m) [default: 8 px, ≥ 3 m]",
                    Double,
                    None,
                    optional=True,
                    minValue=0.0,
                )
            )
        )
        self.addParameter(
            QgsProcessingParameterBoolean(
                "FORCE", "Redo every scene (else finished scenes are kept)", False
            )
        )
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT", "Output folder"))
        self.addOutput(
            QgsProcessingOutputVectorLayer("ROADS", "Roads", QgsProcessing.TypeVectorLine)
        )
        self.addOutput(QgsProcessingOutputRasterLayer("MOSAIC", "Mask mosaic"))
        self.addOutput(QgsProcessingOutputFile("SUMMARY", "Summary (CSV)"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        layers = self.parameterAsLayerList(parameters, "INPUT", context)
        if not layers:
            raise QgsProcessingException("Scenes: give at least one raster")
        scenes = [raster_file(layer, "Scenes") for layer in layers]
        out_dir = self.parameterAsString(parameters, "OUTPUT", context)
        if out_dir.startswith("memory:") or not out_dir:
            raise QgsProcessingException("Output folder: give a folder")
        out_dir = os.path.abspath(out_dir)
        args = ["batch", *scenes, "-o", out_dir, *self.model_args(parameters, context)]
        if self.value(parameters, "AOI") is not None:
            args += [
                "--aoi",
                os.path.abspath(
                    self.parameterAsCompatibleSourceLayerPath(
                        parameters, "AOI", context, ["gpkg", "shp", "geojson"], "gpkg", feedback
                    )
                ),
            ]
        crs = self.parameterAsCrs(parameters, "CRS", context)
        if self.value(parameters, "CRS") is not None and crs.isValid():
            args += ["--crs", crs.authid() or crs.toWkt()]
        args += self.number_args(parameters, context, [("--snap", "SNAP_M")])
        if self.parameterAsBoolean(parameters, "FORCE", context):
            args.append("--force")
        result = self.geoseg(args, feedback, partial_ok=True)
        failed = [line for line in result.output if line.strip().startswith("failed:")]
        for line in failed:
            feedback.reportError(line.strip(), False)
        roads = os.path.join(out_dir, "roads.gpkg")
        # one masks.vrt, or masks_1.vrt, masks_2.vrt... for groups of scenes far apart
        single = os.path.join(out_dir, "masks.vrt")
        mosaics = (
            [single]
            if os.path.isfile(single)
            else sorted(
                os.path.join(out_dir, n)
                for n in os.listdir(out_dir)
                if n.startswith("masks_") and n.endswith(".vrt") and n[6:-4].isdigit()
            )
        )
        summary = os.path.join(out_dir, "summary.csv")
        if not os.path.isfile(roads):
            raise QgsProcessingException(f"geoseg batch wrote no {roads}")
        results = {
            "OUTPUT": out_dir,
            "ROADS": roads,
            "SUMMARY": summary,
            "MOSAIC": mosaics[0] if mosaics else None,
        }
        if len(mosaics) > 1:
            feedback.pushInfo(
                f"the scenes lie in {len(mosaics)} groups far apart: "
                f"one mosaic each ({', '.join(map(os.path.basename, mosaics))})"
            )
        if context.project() is not None:
            layers = [
                (
                    m,
                    "Mask mosaic"
                    if len(mosaics) == 1
                    else f"Mask mosaic {os.path.basename(m)[6:-4]}",
                    "MOSAIC",
                )
                for m in mosaics
            ]
            for path, label, key in [*layers, (roads, "Roads", "ROADS")]:
                context.addLayerToLoadOnCompletion(
                    path, QgsProcessingContext.LayerDetails(label, context.project(), key)
                )
            for path in mosaics:
                style_on_load(context, path, "mask")
            style_on_load(context, roads, "roads")
        return results


ALGORITHMS = (PredictRoads, VectorizeMask, Evaluate, MapArea)
