"""The networks API: the registry, ``cnnlab explain``'s layer table for any model and input size
(or a run's model), a trained layer's filters and feature maps, and predictions with Grad-CAM."""

from __future__ import annotations

import base64
import io
from typing import Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import Response

from cnnlab import models
from cnnlab.analysis import metrics, summary, visualize
from cnnlab.analysis.images import ConvertedImage
from cnnlab.errors import UsageError
from cnnlab.runs.checkpoint import TrainedModel
from cnnlab.web.lab import Lab, lab_of
from cnnlab.web.trained import png_bytes
from cnnlab.web.uploads import MAX_UPLOAD_BYTES, UploadRefused, convert_upload

router = APIRouter(prefix="/api", tags=["networks"])
TOP_K = 5
BUILD_ARGUMENTS = ("num_classes", "in_channels", "input_size")


@router.get("/models")
def model_list() -> list[dict[str, Any]]:
    """Every registry model: name, family, paper, task and the input it is built for by default."""
    return [
        {
            "name": info.name,
            "family": info.family,
            "paper": info.paper,
            "year": info.year,
            "task": info.task,
            "default_input": list(info.default_input),
            "paper_input": list(info.paper_input),
            "description": info.description,
        }
        for info in models.list_models()
    ]


@router.get("/explain")
def explain(
    model: str, input: str | None = Query(None, description="C x H x W, e.g. 3x32x32")
) -> dict[str, Any]:
    """``cnnlab explain MODEL --input CxHxW`` as data: each layer's output shape, size formula
    with its numbers, parameters, MACs and receptive field. Too small an input: 422 naming the
    layer and the formula that show why."""
    shape = parse_shape(input) if input else None
    return summary.explain(model, shape).to_dict()


@router.get("/explain/compare")
def explain_compare(
    model: list[str] = Query(..., description="two or more models"), input: str | None = None
) -> dict[str, Any]:
    """The totals of several models side by side (``cnnlab explain A B``)."""
    shape = parse_shape(input) if input else None
    comparison = summary.Comparison([summary.explain(name, shape) for name in model])
    return {"columns": comparison.columns(), "rows": comparison.rows()}


@router.get("/runs/{name}/explain")
def run_explain(name: str, lab: Lab = Depends(lab_of)) -> dict[str, Any]:
    """The layer table of a run's model at its input size, and its conv layers in forward order
    (those whose filters and feature maps can be shown)."""
    trained = lab.trained.model(lab.run(name))
    if trained.model_name is None:
        table = summary.summarize(trained.model, trained.input_shape).to_dict()
    else:
        # The checkpoint's kwargs repeat what the input shape and the classes say.
        options = {k: v for k, v in trained.model_kwargs.items() if k not in BUILD_ARGUMENTS}
        table = summary.explain(
            trained.model_name, trained.input_shape, len(trained.classes), **options
        ).to_dict()
    with lab.trained.lock:
        conv = visualize.conv_layers_in_order(trained)
    return {**table, "conv_layers": conv, "classes": trained.classes, "dataset": trained.dataset}


@router.get("/runs/{name}/filters.png", response_class=Response)
def filters_png(name: str, layer: str | None = None, lab: Lab = Depends(lab_of)) -> Response:
    """The kernels of a conv layer (default: the first), as ``cnnlab visualize --filters`` draws them."""
    trained = lab.trained.model(lab.run(name))
    with lab.trained.lock:
        layer = layer or visualize.conv_layers_in_order(trained)[0]
        figure = visualize.filters_figure(layer, visualize.resolve_layer(trained.model, layer))
    return Response(figure_png(figure), media_type="image/png")


@router.post("/runs/{name}/feature-maps.png", response_class=Response)
async def feature_maps_png(
    name: str,
    layer: str = Form(...),
    test_index: int | None = Form(None),
    file: UploadFile | None = File(None),
    invert: bool = Form(False),
    lab: Lab = Depends(lab_of),
) -> Response:
    """A conv layer's activations for a test image (``test_index``) or an uploaded one."""
    run_dir = lab.run(name)
    trained = lab.trained.model(run_dir)
    if file is not None:
        data = await read_limited(file)
        image = convert_upload(data, file.filename or "", trained.input_shape, invert=invert)
        pixels, caption = image.pixels, f"{file.filename}: {image.description}"
    else:
        evaluation = lab.trained.evaluation(run_dir)
        index = test_index or 0
        if not 0 <= index < len(evaluation.images):
            raise HTTPException(404, f"the test split has images 0 to {len(evaluation.images) - 1}")
        pixels = evaluation.images[index]
        caption = f"test image {index} ({evaluation.evaluation.classes[int(evaluation.labels[index])]})"
    with lab.trained.lock:
        activations = visualize.feature_maps(trained, pixels, [layer])[layer]
        module = visualize.resolve_layer(trained.model, layer)
        figure = visualize.feature_maps_figure(layer, activations, pixels, caption, module)
    return Response(figure_png(figure), media_type="image/png")


@router.post("/runs/{name}/predict")
async def predict(
    name: str,
    file: UploadFile = File(..., description="an image file, or the PNG of a drawn digit"),
    top_k: int = Form(TOP_K, ge=1),
    invert: bool = Form(False),
    gradcam: bool = Form(True),
    class_name: str | None = Form(None, alias="class"),
    layer: str | None = Form(None, description="Grad-CAM's conv layer (default: the last one)"),
    lab: Lab = Depends(lab_of),
) -> dict[str, Any]:
    """``cnnlab predict RUN FILE`` for one upload: the top-k classes, what was done to the image
    ("RGBA -> RGB, resized 640x480 -> 32x32") and, with ``gradcam``, the Grad-CAM heat maps of the
    predicted class and of ``class`` (a name or index), at ``layer``."""
    trained = lab.trained.model(lab.run(name))
    data = await read_limited(file)
    image = convert_upload(data, file.filename or "drawing.png", trained.input_shape, invert=invert)
    with lab.trained.lock:
        (prediction,) = metrics.predict_images(trained, [image], top_k=top_k)
        cams = grad_cams(trained, image, class_name, layer or None) if gradcam else []
    answer = prediction.to_dict()
    answer["file"] = file.filename
    answer["input_png"] = base64.b64encode(png_bytes(image.pixels)).decode()
    answer["classes"] = trained.classes
    answer["gradcam"] = cams
    return answer


def grad_cams(
    trained: TrainedModel, image: ConvertedImage, class_name: str | None, layer: str | None
) -> list[dict[str, Any]]:
    """Grad-CAM for the predicted class and, if chosen and different, for ``class_name``."""
    chosen = visualize.resolve_class(trained.classes, class_name) if class_name else None
    results = [visualize.grad_cam(trained, image.pixels, layer=layer)]
    if chosen is not None and chosen != results[0].predicted:
        results.append(visualize.grad_cam(trained, image.pixels, class_index=chosen, layer=layer))
    return [
        {
            "class": trained.classes[result.class_index],
            "probability": result.probability,
            "layer": result.layer,
            "has_evidence": result.has_evidence,
            "heatmap": [[round(float(v), 3) for v in row] for row in result.heatmap],
        }
        for result in results
    ]


async def read_limited(file: UploadFile) -> bytes:
    """The upload's bytes, refused past the limit (read one byte more to know)."""
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB", 413)
    return data


def parse_shape(text: str) -> tuple[int, int, int]:
    """``3x32x32`` -> (3, 32, 32); anything else is a usage error."""
    parts = text.lower().replace(",", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise UsageError(f"An input shape is C x H x W, e.g. 3x32x32, not '{text}'.") from None
    if len(shape) != 3 or min(shape) < 1:
        raise UsageError(f"An input shape is C x H x W, e.g. 3x32x32, not '{text}'.")
    return shape  # type: ignore[return-value]


def figure_png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=visualize.DPI)
    return buffer.getvalue()
