from keras_electra.data.conll import CONLL2003_TAGS, read_conll2003
from keras_electra.data.corpus_builder import build_pretraining_data
from keras_electra.data.electra_tokenizer import ElectraTokenizer
from keras_electra.data.glue import GLUE_TASKS, read_glue
from keras_electra.data.squad import read_squad
