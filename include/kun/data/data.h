// The data layer in one include.
#pragma once
#include "kun/data/csv.h"
#include "kun/data/dataset.h"
#include "kun/data/idx.h"
#include "kun/data/image.h"
#include "kun/data/image_folder.h"
#include "kun/data/loader.h"
#include "kun/data/mnist.h"
#include "kun/data/npy.h"
#include "kun/data/split.h"
#include "kun/data/transform.h"
