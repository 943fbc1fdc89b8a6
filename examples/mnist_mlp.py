"""The lecture's PyTorch MNIST example ("Pytorch example" slides), ported to backprop.

Only the imports changed: `import backprop as torch` keeps every `torch.` name of the
slides (`torch.device`, `torch.cuda.is_available`, `torch.nn.Module`, `torch.no_grad`),
and the layers, functions, optimizer, data sets and transforms come from backprop instead of
torch and torchvision. One typo of the slide is fixed: an extra closing parenthesis after
`transforms.Normalize(...)`.

It reads the MNIST IDX files from ~/.cache/MNIST/raw (torchvision's layout; `download=True`
fetches them there when missing). Any MNIST-format files work: Fashion-MNIST's, linked
there under the MNIST names, train this same script on clothing images.
"""

import backprop as torch
from backprop.data import DataLoader, datasets, transforms
from backprop.nn import Dropout, Linear
from backprop.nn.functional import cross_entropy, relu
from backprop.optim import AdamW

# define constants (hyperparameters)
device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
b_size = 64
l_rate = 0.0005
n_epochs = 5

# define the transformations
transform = transforms.Compose([
    transforms.ToTensor(),
    transforms.Normalize((0.1307,), (0.3081,))
])

# load the MNIST data
train_data = datasets.MNIST('~/.cache/', train=True, download=True, transform=transform)
test_data = datasets.MNIST('~/.cache/', train=False, download=True, transform=transform)

# create data loaders
train_loader = DataLoader(train_data, batch_size=b_size, shuffle=True)
test_loader = DataLoader(test_data, batch_size=len(test_data), shuffle=False)


class MLP(torch.nn.Module):
    def __init__(self):
        super(MLP, self).__init__()
        self.fc1 = Linear(28*28, 512)
        self.d1 = Dropout(0.4)
        self.fc2 = Linear(512, 512)
        self.d2 = Dropout(0.4)
        self.fc3 = Linear(512, 10)

    def forward(self, x):
        x = x.view(-1, 28*28)
        x = relu(self.fc1(x))
        x = self.d1(x)
        x = relu(self.fc2(x))
        x = self.d2(x)
        # note softmax is not used explicitly here
        x = self.fc3(x)
        return x


def train(model, device, loader, opt, epoch, log_every=1):
    model.train()

    for batch_idx, (data, target) in enumerate(loader):
        data, target = data.to(device), target.to(device)
        opt.zero_grad()
        output = model(data)
        # cross entropy loss between input logits and target
        # note predictions are not a probability distribution
        loss = cross_entropy(output, target)

        loss.backward()
        opt.step()

        if batch_idx % log_every == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(loader.dataset),
                100. * batch_idx / len(loader), loss.item()))


def test(model, device, loader):
    model.eval()
    test_loss = 0
    correct = 0

    with torch.no_grad():
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += cross_entropy(output, target, reduction='sum').item()

            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()

    test_loss /= len(loader.dataset)

    print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)'.format(
        test_loss, correct, len(loader.dataset),
        100. * correct / len(loader.dataset)))


model = MLP().to(device)
optimizer = AdamW(model.parameters(), lr=l_rate)

for epoch in range(n_epochs):
    train(model, device, train_loader, optimizer, epoch, log_every=100)
    test(model, device, test_loader)
