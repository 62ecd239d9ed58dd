# The original demo, as published (with Chinese comments) in the tutorial
# this project ports (after cv-tricks.com "Transpose convolution in
# TensorFlow" and zhuanlan.zhihu.com/p/38964806): lines 72-138 of the
# document, the demo script itself. Its indentation, lost in the published
# copy, is restored; every other character is as published. It needs
# TensorFlow 1: run it on TensorFlow 2 with `python -m legacy_tf1.original`.
import tensorflow as tf
import numpy as np
from PIL import Image
import matplotlib.pyplot as plt
from math import ceil
'''
一张图片的反卷积
'''
im = Image.open('timg.jpg')
images = np.asarray(im)
print(images.shape)
images = np.reshape(images,[1,750,500,3])
img = tf.Variable(images,dtype=tf.float32)
# kernel = tf.get_variable(name='a',shape=[3, 3, 3, 3], dtype=tf.float32,
# initializer=tf.contrib.layers.xavier_initializer())
# 卷积核
kernel = tf.get_variable(name='a',shape=[3, 3, 3, 64], dtype=tf.float32,
                         initializer=tf.contrib.layers.xavier_initializer())
def __get_deconv_filter(f_shape):
    """
    Compute bilinear filter and return it
    """
    filt_width = f_shape[0] #计算kernel的宽
    filt_height = f_shape[1] #计算kernel的长
    half_width = ceil(filt_width /2.0)
    center = (2 * half_width - 1 - half_width % 2) / (2.0 * half_width) # 计算某点的权值 对这个点进行插值
    bilinear = np.zeros([filt_width, filt_height])
    for x in range(filt_width):
        for y in range(filt_height):
            value = (1 - abs(x / half_width - center)) * (1 - abs(y / half_width - center))
            bilinear[x, y] = value
    weights = np.zeros(f_shape)
    for i in range(f_shape[2]):
        weights[:, :, i, i] = bilinear
        print(weights[:, :, i, i])
    init = tf.constant_initializer(value=weights,
                                   dtype=tf.float32)
    return init
# 反卷积核
kernel2 = tf.get_variable(name='a1',shape=[3, 3, 3, 64], dtype=tf.float32,
                          initializer=__get_deconv_filter([3,3,3,64]))
#tf.nn.conv2d(input=input_op, filter=weights, strides=[1, dh, dw, 1], padding="SAME")
# 卷积
conv1 = tf.nn.conv2d(input=img, filter=kernel,strides=[1, 1, 1, 1], padding="SAME")
# print(conv1)
# 池化
pool = tf.nn.max_pool(conv1, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
shape_ = pool.get_shape().as_list()
print(shape_) #[1, 375, 250, 64]
output_shape = [shape_[0], shape_[1] * 2, shape_[2] * 2, 3]
print('pool:',pool.get_shape())
# 反卷积操作
conts = tf.nn.conv2d_transpose(pool,kernel2,output_shape,strides=[1,2,2,1],padding='SAME')
# print(conv1.get_shape())
a = tf.transpose(conts, [0, 3, 1, 2])
b = tf.transpose(tf.squeeze(a) , [1,2,0])
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    # conv1_convert = sess.run(tf.transpose(conts, [0, 3, 1, 2]))
    # fig6, ax6 = plt.subplots(nrows=3, ncols=8, figsize=(8, 8))
    # plt.title('Pool2 32x7x7')
    # for i in range(8):
    # for j in range(8):
    # ax6[i][j].imshow(conv1_convert[0][(i + 1) * j])
    # plt.show()
    plt.imshow(sess.run(b))
    plt.show()