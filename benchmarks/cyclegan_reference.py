"""A faithful copy of the reference CycleGAN training step, as a speed baseline.

Re-implements what junyanz/pytorch-CycleGAN-and-pix2pix runs for ``--model cycle_gan`` with
its defaults: ``resnet_9blocks`` generators (ngf 64, instance norm, no dropout, reflection
padding), the 70x70 ``basic`` PatchGAN (ndf 64, 3 layers), N(0, 0.02) init, LSGAN
(``nn.MSELoss`` against 1 / 0 targets), lambda_A = lambda_B = 10, identity 0.5, two 50-image
pools (Python ``random``), one Adam (2e-4, (0.5, 0.999)) over both Gs and one over both Ds,
and ``optimize_parameters`` exactly: forward, G step with the Ds frozen, then the D step.
Batch 1 at 128 px (``--load_size 128 --crop_size 128``) unless told otherwise. Written
independently of ganforge so that it measures the reference's step, not ours.

    PYTHONPATH=src python benchmarks/cyclegan_reference.py --steps 5
"""

from __future__ import annotations

import argparse
import itertools
import random
import time

import torch
from torch import nn


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True), _norm(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True), _norm(dim),
        )  # fmt: skip

    def forward(self, x):
        return x + self.conv_block(x)


def resnet_generator(input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9) -> nn.Module:
    model = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=True), _norm(ngf), nn.ReLU(True)]
    for i in range(2):
        mult = 2**i
        model += [
            nn.Conv2d(ngf * mult, ngf * mult * 2, 3, 2, 1, bias=True),
            _norm(ngf * mult * 2),
            nn.ReLU(True),
        ]
    model += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
    for i in range(2):
        mult = 2 ** (2 - i)
        model += [
            nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, 2, 1, output_padding=1, bias=True),
            _norm(ngf * mult // 2),
            nn.ReLU(True),
        ]
    model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
    return nn.Sequential(*model)


def n_layer_discriminator(input_nc: int = 3, ndf: int = 64, n_layers: int = 3) -> nn.Module:
    sequence = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    nf_mult = 1
    for n in range(1, n_layers):
        nf_mult_prev, nf_mult = nf_mult, min(2**n, 8)
        sequence += [nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, 4, 2, 1, bias=True), _norm(ndf * nf_mult)]
        sequence += [nn.LeakyReLU(0.2, True)]
    nf_mult_prev, nf_mult = nf_mult, min(2**n_layers, 8)
    sequence += [nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, 4, 1, 1, bias=True), _norm(ndf * nf_mult)]
    sequence += [nn.LeakyReLU(0.2, True), nn.Conv2d(ndf * nf_mult, 1, 4, 1, 1)]
    return nn.Sequential(*sequence)


def init_normal(net: nn.Module) -> nn.Module:
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0.0)
    return net


class ImagePool:
    def __init__(self, pool_size: int = 50):
        self.pool_size, self.num_imgs, self.images = pool_size, 0, []

    def query(self, images):
        returned = []
        for image in images:
            image = torch.unsqueeze(image.data, 0)
            if self.num_imgs < self.pool_size:
                self.num_imgs += 1
                self.images.append(image)
                returned.append(image)
            elif random.uniform(0, 1) > 0.5:
                random_id = random.randint(0, self.pool_size - 1)
                tmp = self.images[random_id].clone()
                self.images[random_id] = image
                returned.append(tmp)
            else:
                returned.append(image)
        return torch.cat(returned, 0)


class GANLoss(nn.Module):
    """The reference's lsgan mode: MSE against a target tensor of 1 (real) or 0 (fake)."""

    def __init__(self):
        super().__init__()
        self.loss = nn.MSELoss()

    def forward(self, prediction, target_is_real: bool):
        target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
        return self.loss(prediction, target)


def set_requires_grad(nets, requires_grad: bool) -> None:
    for net in nets:
        for param in net.parameters():
            param.requires_grad = requires_grad


class ReferenceCycleGAN:
    """``CycleGANModel`` of the reference, training part only; netD_A judges B images."""

    def __init__(
        self,
        device: torch.device,
        n_blocks: int = 9,
        lambda_cycle: float = 10.0,
        lambda_idt: float = 0.5,
        width: int = 64,  # ngf = ndf
    ):
        self.netG_A = init_normal(resnet_generator(ngf=width, n_blocks=n_blocks)).to(device)
        self.netG_B = init_normal(resnet_generator(ngf=width, n_blocks=n_blocks)).to(device)
        self.netD_A = init_normal(n_layer_discriminator(ndf=width)).to(device)
        self.netD_B = init_normal(n_layer_discriminator(ndf=width)).to(device)
        self.lambda_A = self.lambda_B = lambda_cycle
        self.lambda_idt = lambda_idt
        self.fake_A_pool, self.fake_B_pool = ImagePool(50), ImagePool(50)
        self.criterionGAN, self.criterionCycle, self.criterionIdt = GANLoss(), nn.L1Loss(), nn.L1Loss()
        g_params = itertools.chain(self.netG_A.parameters(), self.netG_B.parameters())
        d_params = itertools.chain(self.netD_A.parameters(), self.netD_B.parameters())
        self.optimizer_G = torch.optim.Adam(g_params, lr=2e-4, betas=(0.5, 0.999))
        self.optimizer_D = torch.optim.Adam(d_params, lr=2e-4, betas=(0.5, 0.999))

    def set_input(self, real_A, real_B):
        self.real_A, self.real_B = real_A, real_B

    def forward(self):
        self.fake_B = self.netG_A(self.real_A)
        self.rec_A = self.netG_B(self.fake_B)
        self.fake_A = self.netG_B(self.real_B)
        self.rec_B = self.netG_A(self.fake_A)

    def backward_D_basic(self, netD, real, fake):
        loss_D_real = self.criterionGAN(netD(real), True)
        loss_D_fake = self.criterionGAN(netD(fake.detach()), False)
        loss_D = (loss_D_real + loss_D_fake) * 0.5
        loss_D.backward()
        return loss_D

    def backward_D_A(self):
        self.loss_D_A = self.backward_D_basic(self.netD_A, self.real_B, self.fake_B_pool.query(self.fake_B))

    def backward_D_B(self):
        self.loss_D_B = self.backward_D_basic(self.netD_B, self.real_A, self.fake_A_pool.query(self.fake_A))

    def backward_G(self):
        if self.lambda_idt > 0:
            self.idt_A = self.netG_A(self.real_B)
            self.loss_idt_A = self.criterionIdt(self.idt_A, self.real_B) * self.lambda_B * self.lambda_idt
            self.idt_B = self.netG_B(self.real_A)
            self.loss_idt_B = self.criterionIdt(self.idt_B, self.real_A) * self.lambda_A * self.lambda_idt
        else:
            self.loss_idt_A = self.loss_idt_B = 0
        self.loss_G_A = self.criterionGAN(self.netD_A(self.fake_B), True)
        self.loss_G_B = self.criterionGAN(self.netD_B(self.fake_A), True)
        self.loss_cycle_A = self.criterionCycle(self.rec_A, self.real_A) * self.lambda_A
        self.loss_cycle_B = self.criterionCycle(self.rec_B, self.real_B) * self.lambda_B
        self.loss_G = (
            self.loss_G_A
            + self.loss_G_B
            + self.loss_cycle_A
            + self.loss_cycle_B
            + self.loss_idt_A
            + self.loss_idt_B
        )
        self.loss_G.backward()

    def optimize_parameters(self):
        self.forward()
        set_requires_grad([self.netD_A, self.netD_B], False)
        self.optimizer_G.zero_grad()
        self.backward_G()
        self.optimizer_G.step()
        set_requires_grad([self.netD_A, self.netD_B], True)
        self.optimizer_D.zero_grad()
        self.backward_D_A()
        self.backward_D_B()
        self.optimizer_D.step()


def seconds_per_step(
    device: torch.device, steps: int = 5, warmup: int = 2, size: int = 128, batch: int = 1, n_blocks: int = 9
) -> float:
    """Mean wall seconds of ``optimize_parameters`` on random images (after ``warmup`` steps)."""
    torch.manual_seed(0)
    random.seed(0)
    model = ReferenceCycleGAN(device, n_blocks=n_blocks)
    images = [torch.rand(batch, 3, size, size, device=device) * 2 - 1 for _ in range(2)]
    for i in range(warmup + steps):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        model.set_input(*images)
        model.optimize_parameters()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--res-blocks", type=int, default=9, help="reference default netG: resnet_9blocks")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    seconds = seconds_per_step(device, args.steps, size=args.size, batch=args.batch, n_blocks=args.res_blocks)
    print(f"reference CycleGAN step: {seconds * 1000:.1f} ms ({args.size} px, batch {args.batch}, {device})")


if __name__ == "__main__":
    main()
